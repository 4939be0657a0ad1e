# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cni_verify's pure core: which node pairs to probe and in which address families, the probe pods and their
busybox script, what the script printed, and the one failure message. No I/O here (verify_run.py does it through
client.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

HTTP_PORT = 8080
SERVICE_PORT = 80
SERVICE_NAME = "probe"
# Both must match for a namespace to be cni_verify's own (and so deleted as a leftover).
NAMESPACE_LABELS = {"app.kubernetes.io/managed-by": "kubeforge", "app.kubernetes.io/name": "cni-verify"}
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
# IPv4 first: the primary family of a cluster, whose failure lines and results come first.
FAMILIES = ("IPv4", "IPv6")

# Runs as `sh -c SCRIPT probe SERVICE_IP TARGET...` (TARGET = index=ip, one per address of a target; SERVICE_IP
# "-" = none) with MTU_CHECK=1|0 and SERVICE_ATTEMPTS in the environment. Only sh, cat, ping, wget, sed and
# timeout: applets of busybox in agnhost (Alpine) and in busybox-static alike. `wget -T` crashes busybox 1.35, so
# `timeout`. busybox ping takes the family from the address (`ping -6` refuses an IPv4 one), so one command line
# serves both. One JSON line per result; every target address is checked in parallel, each line is one write
# (atomic on a pipe).
PROBE_SCRIPT = r"""
mtu=$(cat /sys/class/net/eth0/mtu 2>/dev/null || echo 0)
[ "$MTU_CHECK" = 1 ] && echo "{\"kind\":\"self\",\"mtu\":$mtu}"
svc=$1
shift
url() {
  case $1 in
    *:*) echo "http://[$1]:$2/" ;;
    *) echo "http://$1:$2/" ;;
  esac
}
check() {
  idx=${1%%=*}
  ip=${1#*=}
  # The payload that fills a packet of the MTU: less the IP header (IPv4 20 bytes, IPv6 40) and ICMP's echo
  # header (8).
  case $ip in
    *:*) family=IPv6 payload=$((mtu - 48)) ;;
    *) family=IPv4 payload=$((mtu - 28)) ;;
  esac
  # First, before any other packet to this address: a fresh pod's first packet of the pod's MTU meets the
  # path as it is. IPv4 sends it with DF; IPv6 routers never fragment. Where the path carries less, the answer
  # ("fragmentation needed", ICMPv6 "packet too big") lowers this pod's path MTU to the address, after which the
  # kernel fragments at the source and every later ping would pass.
  mtu_ok=null
  if [ "$MTU_CHECK" = 1 ] && [ "$payload" -gt 0 ]; then
    if ping -c 1 -W 3 -s "$payload" "$ip" >/dev/null 2>&1; then mtu_ok=true; else mtu_ok=false; fi
  fi
  out=$(ping -c 2 -W 2 "$ip" 2>/dev/null)
  if [ $? = 0 ]; then icmp=true; else icmp=false; fi
  rtt=$(echo "$out" | sed -n 's|.*= *[0-9.]*/\([0-9.]*\)/.*|\1|p')
  if timeout 5 wget -q -O /dev/null "$(url "$ip" 8080)" 2>/dev/null; then tcp=true; else tcp=false; fi
  checks="\"icmp\":$icmp,\"rtt_ms\":${rtt:-null},\"tcp\":$tcp,\"mtu\":$mtu_ok,\"payload\":$payload"
  echo "{\"kind\":\"pair\",\"target\":$idx,\"family\":\"$family\",$checks}"
}
for target in "$@"; do
  check "$target" &
done
# After the pairs, not beside them: on a slow data plane (flannel's udp backend is a userspace process) the
# pairs' packets would delay the service's and fail an attempt that only waited in the same queue.
wait
if [ "$svc" != - ]; then
  ok=0
  n=0
  while [ "$n" -lt "$SERVICE_ATTEMPTS" ]; do
    n=$((n + 1))
    timeout 5 wget -q -O /dev/null "$(url "$svc" 80)" 2>/dev/null && ok=$((ok + 1))
  done
  echo "{\"kind\":\"service\",\"succeeded\":$ok,\"attempts\":$n}"
fi
echo '{"kind":"done"}'
"""


def sample_pairs(nodes, max_pairs):
    """Ordered (source, target) pairs of distinct nodes: all of them when they are at most max_pairs, else
    whole rotations (every node once as source and once as target per rotation), spread over the offsets,
    as many as max_pairs allows but at least one. Returns (pairs, total)."""
    nodes = sorted(nodes)
    count = len(nodes)
    total = count * (count - 1)
    if total <= max_pairs:
        return [(s, t) for s in nodes for t in nodes if s != t], total
    rotations = max(1, min(count - 1, max_pairs // count))
    offsets = sorted(set(1 + (j * (count - 1)) // rotations for j in range(rotations)))
    pairs = [(nodes[i], nodes[(i + k) % count]) for i in range(count) for k in offsets]
    return sorted(pairs), total


def is_fake_node(node):
    return ((node.get("metadata") or {}).get("annotations") or {}).get(KWOK_ANNOTATION) == "fake"


def node_ready(node):
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_name(role, node, index):
    """target-NODE / prober-NODE / host-NODE; the node's index when its name is too long for a pod name."""
    return "%s-%s" % (role, node if len(node) <= 240 else index)


def _pod(name, namespace, node, role, image, pull_policy, labels, spec):
    spec = dict(
        {
            "nodeName": node,
            # Every node counts, control planes and tainted nodes too.
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
        },
        **spec,
    )
    spec["containers"][0].update({"image": image, "imagePullPolicy": pull_policy})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels, role=role)},
        "spec": spec,
    }


def namespace_object(name):
    labels = dict(NAMESPACE_LABELS)
    # A hostNetwork prober is not allowed by the baseline Pod Security level: only in this namespace.
    labels["pod-security.kubernetes.io/enforce"] = "privileged"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def target_pod(namespace, node, index, image, pull_policy):
    container = {
        "name": "target",
        "command": ["/agnhost", "netexec", "--http-port=%d" % HTTP_PORT],
        "ports": [{"containerPort": HTTP_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/", "port": HTTP_PORT}, "periodSeconds": 1},
    }
    spec = {"containers": [container]}
    name = pod_name("target", node, index)
    return _pod(name, namespace, node, "target", image, pull_policy, NAMESPACE_LABELS, spec)


def prober_pod(namespace, node, index, image, pull_policy, targets, service_ip, host_network, attempts, check_mtu=True):
    """targets: [(target index, pod IP)]; the script prints what it found and exits."""
    args = [service_ip or "-"] + ["%d=%s" % (target, ip) for target, ip in targets]
    container = {
        "name": "probe",
        "command": ["sh", "-c", PROBE_SCRIPT, "probe", *args],
        "env": [
            {"name": "MTU_CHECK", "value": "1" if check_mtu and not host_network else "0"},
            {"name": "SERVICE_ATTEMPTS", "value": str(attempts)},
        ],
    }
    spec = {"containers": [container], "restartPolicy": "Never"}
    role = "host" if host_network else "prober"
    if host_network:
        spec.update({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"})
    name = pod_name(role, node, index)
    return _pod(name, namespace, node, role, image, pull_policy, NAMESPACE_LABELS, spec)


def service_object(namespace):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": namespace, "labels": dict(NAMESPACE_LABELS)},
        "spec": {
            "type": "ClusterIP",
            "selector": dict(NAMESPACE_LABELS, role="target"),
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": HTTP_PORT, "protocol": "TCP"}],
        },
    }


def ip_family(address):
    return "IPv6" if ":" in address else "IPv4"


def addresses_by_family(addresses):
    """{family: the first of addresses of that family}, IPv4 first, as the kubelet picks a pod's."""
    first = {}
    for address in addresses:
        if address:
            first.setdefault(ip_family(address), address)
    return dict((family, first[family]) for family in FAMILIES if family in first)


def pod_addresses(pod):
    status = pod.get("status") or {}
    return addresses_by_family([entry.get("ip") for entry in status.get("podIPs") or []] or [status.get("podIP")])


def host_addresses(pod):
    """The node's addresses as the kubelet reports them in a pod's hostIPs: also the podIPs it gives a
    hostNetwork pod on that node, which is how a host-network prober's addresses are known before it exists."""
    status = pod.get("status") or {}
    return addresses_by_family([entry.get("ip") for entry in status.get("hostIPs") or []] or [status.get("hostIP")])


def pod_families(addresses):
    """The families of the pod network: those any of addresses ({family: address} per pod) has."""
    return [family for family in FAMILIES if any(family in each for each in addresses)]


def probe_plan(pairs, targets):
    """What each prober checks, {(node, host_network): [(target, family, address, why)]}: per pair (source,
    target) and family of the pod network, IPv4 first, the target pod's address of that family, or None and why
    where the prober or the target has no address of that family, so that no packet of it can be sent (skipped).
    targets: the target pod of each node."""
    addresses = dict((name, pod_addresses(pod)) for name, pod in targets.items())
    # A prober's own addresses are not known before it runs: a pod prober has the families of the target beside
    # it (one node, one IPAM), a host-network prober its node's.
    own = {False: addresses, True: dict((name, host_addresses(pod)) for name, pod in targets.items())}
    families = pod_families(addresses.values())
    plan = dict(((name, host_network), []) for name in targets for host_network in (False, True))
    for source, target in pairs:
        for host_network in (False, True):
            for family in families:
                address, why = addresses[target].get(family), None
                if family not in own[host_network][source]:
                    side = "the host network of %s has" if host_network else "the pods of %s have"
                    address, why = None, "%s no %s address" % (side % source, family)
                elif address is None:
                    why = "the pods of %s have no %s address" % (target, family)
                plan[(source, host_network)].append((target, family, address, why))
    return plan


def parse_probe_log(text):
    """The JSON lines a prober printed (anything else is ignored), its pairs by (target, family); `done` tells it
    ran to the end."""
    found = {"mtu": None, "pairs": {}, "service": None, "done": False}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        kind = record.get("kind")
        if kind == "self":
            found["mtu"] = record.get("mtu")
        elif kind == "pair":
            found["pairs"][(record.get("target"), record.get("family"))] = record
        elif kind == "service":
            found["service"] = record
        elif kind == "done":
            found["done"] = True
    return found


def _entry(source, target, path, family, icmp=None, tcp=None, mtu=None):
    return {"source": source, "target": target, "path": path, "family": family, "icmp": icmp, "tcp": tcp, "mtu": mtu}


def pair_result(source, target, path, family, record):
    """One entry of the module's `pairs`; a target the prober printed nothing for failed every check."""
    record = record or {}
    result = _entry(
        source,
        target,
        path,
        family,
        icmp={"ok": record.get("icmp") is True, "rtt_ms": record.get("rtt_ms")},
        tcp={"ok": record.get("tcp") is True},
    )
    if path == "pod" and (record.get("mtu") is not None or not record):
        # null: the prober ran without the MTU check (check_mtu: false); no record: it failed everything
        result["mtu"] = {"ok": record.get("mtu") is True, "payload": record.get("payload")}
    return result


def skipped_result(source, target, path, family, why):
    return dict(_entry(source, target, path, family), skipped=why)


def service_result(source, service_ip, record):
    record = record or {}
    succeeded, attempts = record.get("succeeded", 0), record.get("attempts", 0)
    tcp = {"ok": bool(attempts) and succeeded == attempts, "succeeded": succeeded, "attempts": attempts}
    return _entry(source, "service %s" % service_ip, "service", ip_family(service_ip), tcp=tcp)


def skipped_reasons(pairs):
    """Why pairs were skipped, each reason once, in the order of pairs."""
    reasons = []
    for pair in pairs:
        if pair.get("skipped") and pair["skipped"] not in reasons:
            reasons.append(pair["skipped"])
    return reasons


# IPv6 has no DF bit: no router fragments it, so a full-size packet crosses whole or not at all.
MTU_PING = {"IPv4": "with DF", "IPv6": "unfragmented"}


def failed_checks(pair):
    """What failed of one pair: icmp, tcp, and mtu only where a small ping passed (else it says nothing)."""
    failed = []
    if pair.get("skipped"):
        return failed
    if pair["icmp"] is not None and not pair["icmp"]["ok"]:
        failed.append("icmp")
    if not pair["tcp"]["ok"]:
        tcp = pair["tcp"]
        failed.append("tcp %d/%d" % (tcp["succeeded"], tcp["attempts"]) if "attempts" in tcp else "tcp")
    if pair["mtu"] is not None and not pair["mtu"]["ok"] and pair["icmp"]["ok"]:
        failed.append("mtu (ping of %s bytes %s)" % (pair["mtu"]["payload"], MTU_PING[pair["family"]]))
    return failed


def failure_lines(pairs):
    """ "kf-node-1 -> kf-node-3 (pod): icmp, tcp" for each pair with a failed check; on a dual-stack pod network
    "kf-node-1 -> kf-node-3 (pod, IPv6): icmp". A single-stack cluster's lines stay as they were, without a
    family that would only repeat the one there is."""
    dual = len(set(pair["family"] for pair in pairs)) > 1
    lines = []
    for pair in pairs:
        failed = failed_checks(pair)
        if failed:
            where = "%s, %s" % (pair["path"], pair["family"]) if dual else pair["path"]
            lines.append("%s -> %s (%s): %s" % (pair["source"], pair["target"], where, ", ".join(failed)))
    return lines


def failure_message(failures, checked):
    return "the pod network fails %d of %d checks: %s" % (len(failures), checked, "; ".join(failures))


def pod_state(pod):
    """'NAME (Phase: waiting reason, on NODE)'."""
    status = pod.get("status") or {}
    return "%s (%s%s, on %s)" % (
        pod["metadata"]["name"],
        status.get("phase", "Pending"),
        _waiting(pod),
        pod["spec"].get("nodeName"),
    )


def pods_not_done(pods):
    """pod_state of each pod in pods (a dict by uid) that has not finished, by name."""
    return [
        pod_state(pod)
        for pod in sorted(pods.values(), key=lambda p: p["metadata"]["name"])
        if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def _waiting(pod):
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return ": " + waiting["reason"]
    return ""


# The kubelet's reasons for a container that will not start without someone changing something.
FATAL_WAITING = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerError")


def fatal_pod_problem(pod):
    """Why a probe pod can never run (image not pullable, …), or None."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FATAL_WAITING:
            return "%s on %s: %s %s" % (
                pod["metadata"]["name"],
                pod["spec"].get("nodeName"),
                waiting["reason"],
                waiting.get("message", ""),
            )
    if status.get("phase") == "Failed" and (pod["metadata"].get("labels") or {}).get("role") == "target":
        return "%s on %s failed: %s" % (pod["metadata"]["name"], pod["spec"].get("nodeName"), status.get("reason"))
    return None
