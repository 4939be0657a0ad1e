"""cni_verify's probe script as it runs, by sh, with stand-ins for the tools that need a network (ping, wget,
timeout, and cat for the pod's eth0 MTU); then whole runs of the Verifier on a fake cluster whose probe pods run
that script. The stand-ins' network is a list of addresses nothing reaches (DOWN) and of addresses whose path
carries less than the MTU (NARROW: the first full-size ping fails, later ones pass, as after a real "packet too
big" the kernel fragments at the source)."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import verify
from ansible_collections.kubeforge.cluster.plugins.module_utils.verify_run import Verifier, VerifyFailed

from .fake_client import FakeClient

TOOLS = {
    "ping": r"""
        echo "ping $*" >> "$TOOL_LOG"
        size=
        for arg; do
          [ "$previous" = -s ] && size=$arg
          previous=$arg
          address=$arg
        done
        case " $DOWN " in *" $address "*) exit 1 ;; esac
        if [ -n "$size" ]; then
          case " $NARROW " in
            *" $address "*) [ -e "$STATE/$address" ] || { touch "$STATE/$address"; exit 1; } ;;
          esac
        fi
        echo "round-trip min/avg/max = 0.100/0.250/0.400 ms"
    """,
    # As busybox wget: an IPv6 address without brackets is no host.
    "wget": r"""
        for url; do :; done
        echo "wget $url" >> "$TOOL_LOG"
        case $url in
          "http://["*) host=${url#http://[}; host=${host%%]:*} ;;
          *) host=${url#http://}; host=${host%:*}; case $host in *:*) exit 1 ;; esac ;;
        esac
        case " $DOWN " in *" $host "*) exit 1 ;; esac
    """,
    "timeout": r"""
        shift
        exec "$@"
    """,
    "cat": r"""
        if [ "$1" = /sys/class/net/eth0/mtu ]; then echo "$POD_MTU"; else exec /bin/cat "$@"; fi
    """,
}


class Network:
    def __init__(self, tmp_path, mtu=1450, down=(), narrow=()):
        self.bin = tmp_path / "bin"
        self.state = tmp_path / "state"
        self.log = tmp_path / "tools.log"
        self.bin.mkdir()
        self.state.mkdir()
        for name, body in TOOLS.items():
            tool = self.bin / name
            tool.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip())
            tool.chmod(0o755)
        self.env = {"POD_MTU": str(mtu), "DOWN": " ".join(down), "NARROW": " ".join(narrow)}

    def run(self, command, env):
        """Runs a probe pod's command with its environment (a list of name/value), returns what it printed."""
        environment = dict(os.environ, PATH=f"{self.bin}:{os.environ['PATH']}", TOOL_LOG=str(self.log))
        environment.update(self.env, STATE=str(self.state))
        environment.update((item["name"], item["value"]) for item in env)
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    def tool_calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []


def prober_command(targets, service_ip=None, host_network=False, check_mtu=True):
    pod = verify.prober_pod("ns", "a", 0, "img", "Never", targets, service_ip, host_network, 3, check_mtu)
    container = pod["spec"]["containers"][0]
    return container["command"], container["env"]


# -- the script --------------------------------------------------------------------------------------------------


def test_each_family_gets_its_payload_for_a_packet_of_the_mtu(tmp_path):
    network = Network(tmp_path, mtu=1450)
    found = verify.parse_probe_log(network.run(*prober_command([(1, "10.244.1.7"), (1, "fd00:10:244:1::7")])))
    assert found["done"] and found["mtu"] == 1450
    ipv4, ipv6 = found["pairs"][(1, "IPv4")], found["pairs"][(1, "IPv6")]
    assert (ipv4["payload"], ipv6["payload"]) == (1450 - 28, 1450 - 48)
    assert all(record[check] is True for record in (ipv4, ipv6) for check in ("icmp", "tcp", "mtu"))
    assert ipv4["rtt_ms"] == ipv6["rtt_ms"] == 0.25


def test_an_ipv6_address_is_fetched_in_brackets_and_pinged_as_it_is(tmp_path):
    network = Network(tmp_path)
    network.run(*prober_command([(1, "fd00:10:244:1::7")], service_ip="10.96.0.10"))
    calls = network.tool_calls()
    assert "wget http://[fd00:10:244:1::7]:8080/" in calls
    assert "wget http://10.96.0.10:80/" in calls
    # no -6: busybox ping takes the family from the address, and `ping -6` refuses an IPv4 one
    assert "ping -c 2 -W 2 fd00:10:244:1::7" in calls


def test_the_full_size_ping_is_the_first_packet_to_each_address(tmp_path):
    network = Network(tmp_path, narrow=["10.244.1.7", "fd00:10:244:1::7"])
    targets = [(1, "10.244.1.7"), (1, "fd00:10:244:1::7"), (2, "10.244.2.9"), (2, "fd00:10:244:2::9")]
    found = verify.parse_probe_log(network.run(*prober_command(targets)))
    for _, address in targets:
        pings = [call for call in network.tool_calls() if call.startswith("ping ") and call.endswith(" " + address)]
        assert len(pings) == 2 and " -s " in pings[0], pings
    # A narrow path fails the full-size ping, though the small pings after it pass.
    assert [found["pairs"][key]["mtu"] for key in sorted(found["pairs"])] == [False, False, True, True]
    assert all(record["icmp"] and record["tcp"] for record in found["pairs"].values())


def test_a_dead_ipv6_path_fails_only_its_family(tmp_path):
    network = Network(tmp_path, down=["fd00:10:244:1::7"])
    found = verify.parse_probe_log(network.run(*prober_command([(1, "10.244.1.7"), (1, "fd00:10:244:1::7")])))
    assert (found["pairs"][(1, "IPv4")]["icmp"], found["pairs"][(1, "IPv4")]["tcp"]) == (True, True)
    assert (found["pairs"][(1, "IPv6")]["icmp"], found["pairs"][(1, "IPv6")]["tcp"]) == (False, False)
    assert found["pairs"][(1, "IPv6")]["rtt_ms"] is None


def test_the_host_network_prober_sends_no_full_size_ping(tmp_path):
    network = Network(tmp_path)
    found = verify.parse_probe_log(network.run(*prober_command([(1, "fd00:10:244:1::7")], host_network=True)))
    assert found["mtu"] is None and found["pairs"][(1, "IPv6")]["mtu"] is None
    assert not [call for call in network.tool_calls() if " -s " in call]


# -- whole runs --------------------------------------------------------------------------------------------------


class ProbeCluster(FakeClient):
    """Nodes whose pods come up at once: targets ready with the addresses of `addresses` (node: {"pod": [...],
    "host": [...]}), probers finished with what the script printed on `network`."""

    def __init__(self, network, addresses):
        nodes = [
            {
                "kind": "Node",
                "metadata": {"name": name},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
            for name in addresses
        ]
        kube_proxy = {"kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": "kube-system"}}
        super().__init__([*nodes, kube_proxy])
        self.network = network
        self.addresses = addresses
        self.logs = {}

    def list_with_version(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        items, version = super().list_with_version(api_version, kind, namespace)
        if label_selector:
            items = [item for item in items if selected(item, label_selector)]
        return items, version

    def create(self, obj, dry_run=False):
        obj = dict(obj, metadata=dict(obj["metadata"]))
        if obj["kind"] == "Service":
            obj["spec"] = dict(obj["spec"], clusterIP="10.96.0.10")
        if obj["kind"] == "Pod":
            node = self.addresses[obj["spec"]["nodeName"]]
            ips = node["host"] if obj["spec"].get("hostNetwork") else node["pod"]
            status = {
                "podIP": ips[0],
                "podIPs": [{"ip": ip} for ip in ips],
                "hostIP": node["host"][0],
                "hostIPs": [{"ip": ip} for ip in node["host"]],
            }
            if obj["metadata"]["labels"]["role"] == "target":
                status.update(phase="Running", conditions=[{"type": "Ready", "status": "True"}])
            else:
                container = obj["spec"]["containers"][0]
                self.logs[obj["metadata"]["name"]] = self.network.run(container["command"], container["env"])
                status["phase"] = "Succeeded"
            obj["status"] = status
        self.put(obj)
        self.requests["write"] += 1
        return obj

    def pod_log(self, name, namespace, container=None):
        return self.logs[name]


def selected(obj, selector):
    """The two kinds of label selector cni_verify uses: key=value terms, comma-joined, the last maybe `key in (a,b)`."""
    labels = obj["metadata"].get("labels") or {}
    choice = re.fullmatch(r"(.*),(\S+) in \(([^)]*)\)", selector)
    if choice:
        selector, key, values = choice.groups()
        if labels.get(key) not in values.split(","):
            return False
    return all(labels.get(key) == value for key, _, value in (term.partition("=") for term in selector.split(",")))


def dual_stack(host_ipv6=True):
    return {
        name: {
            "pod": [f"10.244.{i}.5", f"fd00:10:244:{i}::5"],
            "host": [f"198.18.0.{10 + i}"] + ([f"fd00:198:18::{10 + i}"] if host_ipv6 else []),
        }
        for i, name in enumerate(["kf-node-1", "kf-node-2"])
    }


def single_stack():
    return {name: {"pod": [ips["pod"][0]], "host": [ips["host"][0]]} for name, ips in dual_stack().items()}


def run(network, addresses):
    verifier = Verifier(ProbeCluster(network, addresses), {"timeout": 60})
    try:
        return verifier.run(), verifier.warnings
    except VerifyFailed as failed:
        return failed.result, verifier.warnings


def by_check(result):
    return {(p["source"], p["target"], p["path"], p["family"]): p for p in result["pairs"]}


def test_a_single_stack_cluster_is_checked_as_before(tmp_path):
    result, warnings = run(Network(tmp_path), single_stack())
    assert result["verified"] is True and result["failures"] == [] and warnings == []
    assert {pair["family"] for pair in result["pairs"]} == {"IPv4"}
    # 2 ordered pairs x (pod, host), and one service check per node
    assert result["checks"] == len(result["pairs"]) == 6
    pod = by_check(result)[("kf-node-1", "kf-node-2", "pod", "IPv4")]
    assert pod["mtu"] == {"ok": True, "payload": 1422} and pod["icmp"] == {"ok": True, "rtt_ms": 0.25}


def test_a_dual_stack_cluster_is_checked_in_both_families(tmp_path):
    result, warnings = run(Network(tmp_path), dual_stack())
    assert result["verified"] is True and result["failures"] == [] and warnings == []
    checks = by_check(result)
    assert result["checks"] == len(result["pairs"]) == 10
    for source, target in (("kf-node-1", "kf-node-2"), ("kf-node-2", "kf-node-1")):
        for path in ("pod", "host"):
            for family in ("IPv4", "IPv6"):
                assert checks[(source, target, path, family)]["icmp"]["ok"], (source, target, path, family)
        assert checks[(source, target, "pod", "IPv6")]["mtu"] == {"ok": True, "payload": 1402}
    services = [pair for pair in result["pairs"] if pair["path"] == "service"]
    assert [(pair["family"], pair["tcp"]["attempts"]) for pair in services] == [("IPv4", 2), ("IPv4", 2)]
    # one prober's entries: each pair IPv4 first, then the service
    first = [(p["path"], p["family"]) for p in result["pairs"] if p["source"] == "kf-node-1"]
    assert first == [("pod", "IPv4"), ("pod", "IPv6"), ("service", "IPv4"), ("host", "IPv4"), ("host", "IPv6")]


def test_dual_stack_failures_name_their_family(tmp_path):
    # kf-node-2's pods unreachable over IPv6; the IPv6 path into kf-node-1's pods narrower than the pods' MTU
    addresses = dual_stack()
    node1, node2 = addresses["kf-node-1"]["pod"][1], addresses["kf-node-2"]["pod"][1]
    result, _ = run(Network(tmp_path, down=[node2], narrow=[node1]), addresses)
    assert result["verified"] is False
    assert result["failures"] == [
        "kf-node-1 -> kf-node-2 (pod, IPv6): icmp, tcp",
        "kf-node-1 -> kf-node-2 (host, IPv6): icmp, tcp",
        "kf-node-2 -> kf-node-1 (pod, IPv6): mtu (ping of 1402 bytes unfragmented)",
    ]
    assert result["reason"].startswith("the pod network fails 3 of 10 checks: ")


def test_a_host_without_ipv6_is_skipped_over_ipv6_not_failed(tmp_path):
    network = Network(tmp_path)
    result, warnings = run(network, dual_stack(host_ipv6=False))
    assert result["verified"] is True and result["failures"] == []
    skipped = [pair for pair in result["pairs"] if pair.get("skipped")]
    assert [(pair["source"], pair["path"], pair["family"]) for pair in skipped] == [
        ("kf-node-1", "host", "IPv6"),
        ("kf-node-2", "host", "IPv6"),
    ]
    assert result["checks"] == len(result["pairs"]) - 2 == 8
    assert warnings == [
        "some checks are skipped (see skipped in pairs), not failed: the host network of kf-node-1 has no IPv6 "
        "address; the host network of kf-node-2 has no IPv6 address"
    ]
    # nothing was sent where a family was skipped: the host probers got IPv4 addresses only
    host_pings = [call for call in network.tool_calls() if call.startswith("ping ") and " -s " not in call]
    assert len([call for call in host_pings if ":" in call]) == 2  # the two pod probers' IPv6 pings


@pytest.mark.parametrize("addresses", [single_stack(), dual_stack()])
def test_a_dead_node_fails_every_family_it_has(tmp_path, addresses):
    node2 = addresses["kf-node-2"]["pod"]
    result, _ = run(Network(tmp_path, down=node2), addresses)
    failed = {(pair["path"], pair["family"]) for pair in result["pairs"] if verify.failed_checks(pair)}
    families = {verify.ip_family(ip) for ip in node2}
    assert failed == {(path, family) for path in ("pod", "host") for family in families}
    if len(families) == 1:
        assert "kf-node-1 -> kf-node-2 (pod): icmp, tcp" in result["failures"]
