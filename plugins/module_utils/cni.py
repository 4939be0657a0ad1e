# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The core of cni_config and cni_info: what is asked, what is live, what must be written, in which order.

Pure functions decide (request, pod CIDR, desired objects, patches); the CniConfig class sequences the
reads and writes through the one I/O adapter (kube.KubeClient).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import ipaddress
import json
import time

try:
    import yaml
except ImportError:  # pragma: no cover - the kubernetes client depends on PyYAML
    yaml = None

from ansible_collections.kubeforge.cluster.plugins.module_utils import calico, flannel
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    ANNOTATION_PREFIX,
    CALICO_BACKENDS,
    CNI_NAMES,
    CNIS,
    MatrixError,
    cni_spec,
    is_flannel_networking,
    mtu_overhead,
    normalize_backend,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.kube import Conflict, KubeError
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import (
    ManifestSource,
    describe,
    find,
    image_tag,
    load_documents,
    object_key,
    read_manifest,
    replace_registry,
)

CONFIG_HASH = ANNOTATION_PREFIX + "config-hash"
RESTARTED_AT = ANNOTATION_PREFIX + "restarted-at"
PRIVILEGED_FOR_UDP = ANNOTATION_PREFIX + "privileged-for-udp"
FLANNEL_OPTIONS = ("vni", "port", "direct_routing", "gbp", "psk", "listen_port", "wireguard_mode")
RESTART_CHOICES = ("auto", "always", "never")
CONFLICT_RETRIES = 5
# Server-maintained fields that never take part in a comparison or a patch.
VOLATILE_METADATA = ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid")


class Request:
    """Validated input of cni_config."""

    def __init__(self, **values):
        self.__dict__.update(values)


def _ipv4_network(value, name):
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise MatrixError("%s=%r is not a network CIDR (%s); e.g. 10.244.0.0/16" % (name, value, exc)) from None
    if network.version != 4:
        raise MatrixError("%s=%s: only IPv4 pod CIDRs are supported" % (name, value))
    return network


def build_request(params):
    """Validate the module parameters against the CNI matrix; one clear error per bad input."""
    cni = params["cni"]
    spec = cni_spec(cni)
    backend = params.get("backend")
    if params.get("calico_backend") is not None:
        value = params["calico_backend"]
        calico.validate_calico_backend_value(value)
        if cni != "calico":
            raise MatrixError("calico_backend applies to cni=calico only; use backend= for %s" % cni)
        if backend is not None:
            raise MatrixError("give backend= or calico_backend=, not both")
        if value not in ("bird", "vxlan"):
            raise MatrixError("calico_backend=%r: use bird or vxlan (none is policy-only: use cni=canal)" % value)
        backend = "bgp" if value == "bird" else "vxlan"
    backend = normalize_backend(cni, backend)
    pod_cidr = params.get("pod_cidr")
    if pod_cidr is not None:
        pod_cidr = str(_ipv4_network(pod_cidr, "pod_cidr"))
    options = dict((name, params.get(name)) for name in FLANNEL_OPTIONS)
    encapsulation = params.get("encapsulation")
    mtu = params.get("mtu")
    if mtu is not None and not 576 <= mtu <= 9000:
        raise MatrixError("mtu=%s is out of range; use 576 to 9000" % mtu)
    if is_flannel_networking(cni):
        if encapsulation is not None:
            raise MatrixError("encapsulation applies to Calico's ipip and vxlan backends, not to %s" % cni)
        if mtu is not None and "mtu" not in spec["backends"][backend]["options"]:
            raise MatrixError("mtu does not apply to flannel backend %s; it applies to: vxlan, wireguard" % backend)
        options["mtu"] = mtu
        flannel_keys = flannel.validate_options(backend, options)
    else:
        given = sorted(name for name, value in options.items() if value is not None)
        if given:
            raise MatrixError("%s apply to flannel and canal backends, not to calico" % ", ".join(given))
        flannel_keys = {}
        encapsulation = calico.validate_encapsulation(backend, encapsulation)
    if params.get("image_registry") is not None and not params["image_registry"].strip("/"):
        raise MatrixError("image_registry is empty; give a registry such as registry.example.com/mirror")
    restart = params.get("restart") or "auto"
    if restart not in RESTART_CHOICES:
        raise MatrixError("restart=%r: use one of %s" % (restart, ", ".join(RESTART_CHOICES)))
    version = params.get("version") or spec["version"]
    source = ManifestSource(
        cni,
        version,
        url=params.get("manifest_url"),
        sha256=params.get("manifest_sha256"),
        path=params.get("manifest_path"),
        mirror=params.get("manifest_mirror"),
    )
    return Request(
        cni=cni,
        backend=backend,
        pod_cidr=pod_cidr,
        version=version,
        source=source,
        image_registry=params.get("image_registry"),
        mtu=mtu,
        flannel_keys=flannel_keys,
        encapsulation=encapsulation,
        restart=restart,
        wait=params.get("wait", True),
        wait_timeout=params.get("wait_timeout") or 300,
    )


def kubeadm_pod_subnet(configmap):
    """networking.podSubnet of the kubeadm-config ConfigMap (its IPv4 part), or None."""
    if not configmap or yaml is None:
        return None
    try:
        cluster_config = yaml.safe_load((configmap.get("data") or {}).get("ClusterConfiguration") or "") or {}
    except yaml.YAMLError:
        return None
    subnet = (cluster_config.get("networking") or {}).get("podSubnet")
    for part in (subnet or "").split(","):
        if part.strip() and ":" not in part:
            return part.strip()
    return None


def decide_pod_cidr(requested, cni, kubeadm_subnet, live_cni_cidr, node_cidrs):
    """The one pod CIDR, from the request, the live CNI, kubeadm or the CNI's default; a mismatch between
    any two of them is refused: changing the pod CIDR is a migration, not a configuration change."""
    facts = []
    if live_cni_cidr:
        facts.append(("the live %s configuration" % cni, live_cni_cidr))
    if kubeadm_subnet:
        facts.append(("kubeadm-config ClusterConfiguration networking.podSubnet", kubeadm_subnet))
    cidr = requested or (facts[0][1] if facts else cni_spec(cni)["default_pod_cidr"])
    wanted = _ipv4_network(cidr, "pod_cidr")
    for where, value in facts:
        if _ipv4_network(value, where) != wanted:
            raise MatrixError(
                "pod_cidr %s disagrees with %s (%s). Changing a live cluster's pod CIDR is a migration "
                "(new IP pool, every pod re-addressed), which cni_config does not do; pass pod_cidr=%s or omit it"
                % (wanted, where, value, value)
            )
    outside = sorted(
        "%s (%s)" % (node, cidr_)
        for node, cidr_ in node_cidrs.items()
        if cidr_ and not ipaddress.ip_network(cidr_).subnet_of(wanted)
    )
    if outside:
        raise MatrixError(
            "node podCIDRs lie outside pod_cidr %s: %s; kube-controller-manager's --cluster-cidr (kubeadm "
            "networking.podSubnet) must be the same network" % (wanted, ", ".join(outside))
        )
    return str(wanted)


def strip_volatile(obj):
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata", {})
    for field in VOLATILE_METADATA:
        meta.pop(field, None)
    obj.pop("status", None)
    return obj


def merge_patch(live, desired):
    """The RFC 7386 merge patch turning live into desired (lists are replaced whole), or None if equal."""
    if live == desired:
        return None
    if isinstance(live, dict) and isinstance(desired, dict):
        patch = {}
        for key, value in desired.items():
            if key not in live:
                patch[key] = value
            elif live[key] != value:
                patch[key] = merge_patch(live[key], value)
        for key in live:
            if key not in desired:
                patch[key] = None
        return patch
    return desired


def pick_values(obj, patch):
    """The values of obj at the paths a patch touches: the `before` of a diff."""
    if not isinstance(patch, dict) or not isinstance(obj, dict):
        return obj
    return dict((key, pick_values(obj.get(key), value)) for key, value in patch.items())


def config_hash(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def rolled_out(daemonset):
    status = daemonset.get("status") or {}
    desired = status.get("desiredNumberScheduled", 0)
    return (
        status.get("observedGeneration", 0) >= daemonset["metadata"].get("generation", 0)
        and status.get("updatedNumberScheduled", 0) == desired
        and status.get("numberAvailable", 0) == desired
        and not status.get("numberUnavailable")
    )


def pod_ready(pod):
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def lagging_nodes(pods, nodes, old_uids):
    """Nodes without a new, ready CNI pod."""
    fresh = set(
        pod["spec"].get("nodeName") for pod in pods if pod["metadata"]["uid"] not in old_uids and pod_ready(pod)
    )
    return sorted(node for node in nodes if node not in fresh)


def stale_node_state(old_conf, new_conf, nodes):
    """What the old flannel backend leaves on each node, which flannel never removes."""
    old_type, new_type = flannel.live_backend_type(old_conf), flannel.live_backend_type(new_conf)
    if old_type == new_type:
        return []
    devices = flannel.stale_devices(old_conf)
    state = []
    for name, _node in sorted(nodes.items()):
        routes = []
        if old_type == "host-gw":
            routes = [
                "%s via %s" % (other["pod_cidr"], other["ip"])
                for other_name, other in sorted(nodes.items())
                if other_name != name and other["pod_cidr"] and other["ip"]
            ]
        state.append({"node": name, "devices": devices, "routes": routes})
    return state


class CniConfig:
    """Reads the live state once, writes only the difference, in the order the CNI needs."""

    def __init__(self, client, request, check_mode=False, fetch_url=None, warn=None):
        self.client = client
        self.req = request
        self.spec = cni_spec(request.cni)
        self.check_mode = check_mode
        self.fetch_url = fetch_url
        self.warn = warn or (lambda message: None)
        self.created = []
        self.updated = []
        self.diff = []
        self.restarted = []
        self.result = {}

    # -- reading ---------------------------------------------------------------------------------
    def read_cluster(self):
        client, spec = self.client, self.spec
        namespace = spec["namespace"]
        self.configmap = client.get("v1", "ConfigMap", spec["configmap"], namespace)
        self.daemonset = client.get("apps/v1", "DaemonSet", spec["daemonset"], namespace)
        for other in CNI_NAMES:
            other_spec = CNIS[other]
            if other != self.req.cni and client.get(
                "apps/v1", "DaemonSet", other_spec["daemonset"], other_spec["namespace"]
            ):
                raise MatrixError(
                    "%s is installed (DaemonSet %s/%s); cni_config configures the installed CNI and does not "
                    "migrate between CNIs. Use cni=%s, or remove %s first"
                    % (other, other_spec["namespace"], other_spec["daemonset"], other, other)
                )
        self.kubeadm_subnet = kubeadm_pod_subnet(client.get("v1", "ConfigMap", "kubeadm-config", "kube-system"))
        self.nodes = {}
        for node in client.list("v1", "Node"):
            ips = [a["address"] for a in (node.get("status") or {}).get("addresses", []) if a["type"] == "InternalIP"]
            self.nodes[node["metadata"]["name"]] = {
                "pod_cidr": node.get("spec", {}).get("podCIDR"),
                "ip": ips[0] if ips else None,
                "arch": node["metadata"].get("labels", {}).get("kubernetes.io/arch"),
            }
        self.pool = self.felix = None
        if self.req.cni == "calico":
            pools = [p for p in client.list(calico.IPPOOL_API, "IPPool") if ":" not in p["spec"].get("cidr", ":")]
            named = [p for p in pools if p["metadata"]["name"] == spec["ippool"]]
            self.pool = (named or (pools if len(pools) == 1 else [None]))[0]
            if self.pool:
                calico.check_pool_modes(self.pool)
            self.felix = client.get(calico.IPPOOL_API, "FelixConfiguration", "default")

    def live_net_conf(self, configmap):
        where = "ConfigMap %s/%s" % (self.spec["namespace"], self.spec["configmap"])
        text = ((configmap or {}).get("data") or {}).get(flannel.NET_CONF_KEY)
        if text is None:
            if configmap is not None:
                raise MatrixError(
                    "%s has no %s key; restore it or delete the ConfigMap to have it re-created"
                    % (where, flannel.NET_CONF_KEY)
                )
            return None
        return flannel.parse_net_conf(text, where)

    def live_cni_cidr(self):
        if is_flannel_networking(self.req.cni):
            conf = self.live_net_conf(self.configmap)
            return conf.get("Network") if conf else None
        return self.pool["spec"].get("cidr") if self.pool else None

    def check_nodes(self):
        if is_flannel_networking(self.req.cni):
            missing = sorted(name for name, node in self.nodes.items() if not node["pod_cidr"])
            if missing:
                raise MatrixError(
                    "nodes without spec.podCIDR: %s; %s takes each node's subnet from it, so "
                    "kube-controller-manager must run with --allocate-node-cidrs=true --cluster-cidr=%s "
                    "(kubeadm networking.podSubnet)" % (", ".join(missing), self.req.cni, self.pod_cidr)
                )
        if self.req.backend == "udp":
            other = sorted("%s (%s)" % (n, v["arch"]) for n, v in self.nodes.items() if v["arch"] not in ("amd64",))
            if other:
                raise MatrixError(
                    "flannel's udp backend is built for linux/amd64 only; these nodes are not: %s. "
                    "Use vxlan, host-gw or wireguard" % ", ".join(other)
                )

    # -- desired state ---------------------------------------------------------------------------
    def desired_config(self, configmap):
        """(desired ConfigMap, the config the CNI reads at start) from a live or manifest ConfigMap."""
        desired = copy.deepcopy(configmap)
        data = desired.setdefault("data", {})
        if is_flannel_networking(self.req.cni):
            live_conf = self.live_net_conf(configmap) or {}
            conf = flannel.desired_net_conf(live_conf, self.pod_cidr, self.req.backend, self.req.flannel_keys)
            if conf != live_conf:
                data[flannel.NET_CONF_KEY] = flannel.dump_net_conf(conf)
            return desired, {"net-conf.json": conf}
        if data.get("calico_backend") == "ipip":
            self.warn(
                "calico-config had calico_backend: ipip, which calico-node silently runs as bird; "
                "rewriting it as %s" % CALICO_BACKENDS[self.req.backend]["calico_backend"]
            )
        data["calico_backend"] = CALICO_BACKENDS[self.req.backend]["calico_backend"]
        if self.req.mtu is not None:
            data["veth_mtu"] = str(self.req.mtu)
        return desired, {"calico_backend": data["calico_backend"], "veth_mtu": data.get("veth_mtu")}

    def desired_workload(self, obj, restart_hash=None):
        """A DaemonSet or Deployment with the images, privileges, probes and restart marker it needs."""
        if obj["kind"] not in ("DaemonSet", "Deployment"):
            return obj
        obj = copy.deepcopy(obj)
        pod = obj["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod.get("containers", []):
            registry = self.req.image_registry
            if registry and not container["image"].startswith(registry.rstrip("/") + "/"):
                container["image"] = replace_registry(container["image"], registry)
        if obj["kind"] != "DaemonSet" or obj["metadata"]["name"] != self.spec["daemonset"]:
            return obj
        containers = pod["containers"]
        if self.req.cni == "flannel":
            self._set_udp_privilege(obj, next(c for c in containers if c["name"] == self.spec["flannel_container"]))
        if self.req.cni == "calico":
            index = next(i for i, c in enumerate(containers) if c["name"] == self.spec["calico_container"])
            containers[index] = calico.desired_calico_container(
                containers[index], self.req.backend, self.req.encapsulation, self.pod_cidr
            )
        if restart_hash:
            annotations = obj["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})
            annotations.update(restart_hash)
        return obj

    def _set_udp_privilege(self, daemonset, container):
        # udp opens /dev/net/tun, which needs a privileged container; the marker lets us undo only what we did.
        annotations = daemonset["metadata"].setdefault("annotations", {})
        context = container.setdefault("securityContext", {})
        if self.req.backend == "udp" and not context.get("privileged"):
            context["privileged"] = True
            annotations[PRIVILEGED_FOR_UDP] = "true"
        elif self.req.backend != "udp" and annotations.pop(PRIVILEGED_FOR_UDP, None):
            context["privileged"] = False
        if not annotations:
            daemonset["metadata"].pop("annotations")

    # -- writing ---------------------------------------------------------------------------------
    def ensure(self, live, make_desired, read, patch_type="merge"):
        """Create the object, or patch what differs; on a conflict re-read and recompute, so another
        writer's change is kept. Returns (object, changed)."""
        for _attempt in range(CONFLICT_RETRIES):
            desired = make_desired(live)
            if live is None:
                return self._create(desired), True
            patch = merge_patch(strip_volatile(live), strip_volatile(desired))
            if not patch:
                return live, False
            # The resourceVersion makes the patch fail with a conflict if the object moved on since read.
            body = dict(
                patch, metadata=dict(patch.get("metadata") or {}, resourceVersion=live["metadata"]["resourceVersion"])
            )
            api_version, kind, namespace, name = object_key(live)
            try:
                result = self.client.patch(api_version, kind, name, namespace, body, patch_type, self.check_mode)
            except Conflict:
                live = read()
                continue
            self.updated.append(describe(live))
            self.diff.append(
                {
                    "before_header": describe(live),
                    "after_header": describe(live),
                    "before": _dump(pick_values(strip_volatile(live), patch)),
                    "after": _dump(patch),
                }
            )
            return result, True
        raise KubeError("%s kept changing under us (%d conflicts); run again" % (describe(live), CONFLICT_RETRIES))

    def _create(self, obj):
        self.created.append(describe(obj))
        self.diff.append(
            {"before_header": describe(obj), "after_header": describe(obj), "before": "", "after": "(created)\n"}
        )
        if self.check_mode and self._namespace_is_new(obj):
            return obj  # a dry-run create fails in a namespace that a dry run did not create
        if self.check_mode and self.client.resource(obj["apiVersion"], obj["kind"]) is None:
            return obj  # its CRD is created in this run; the dry run could not create it
        return self.client.apply(obj, dry_run=self.check_mode)

    def _namespace_is_new(self, obj):
        namespace = obj["metadata"].get("namespace")
        return bool(namespace) and ("Namespace %s" % namespace) in self.created

    def load_manifest(self):
        text, warnings = read_manifest(self.req.source, self.fetch_url)
        for warning in warnings:
            self.warn(warning)
        objects = load_documents(text, self.req.source.describe())
        for kind, name in (("ConfigMap", self.spec["configmap"]), ("DaemonSet", self.spec["daemonset"])):
            found = find(objects, kind, name)
            if found is None or found["metadata"].get("namespace") != self.spec["namespace"]:
                raise MatrixError(
                    "the manifest %s has no %s %s/%s: is it a %s manifest of a supported version?"
                    % (self.req.source.describe(), kind, self.spec["namespace"], name, self.req.cni)
                )
        return objects

    def run(self):
        req = self.req
        self.read_cluster()
        node_cidrs = dict((name, node["pod_cidr"]) for name, node in self.nodes.items())
        self.pod_cidr = decide_pod_cidr(req.pod_cidr, req.cni, self.kubeadm_subnet, self.live_cni_cidr(), node_cidrs)
        self.check_nodes()
        if req.backend == "udp":
            self.warn(
                "flannel's udp backend is meant for debugging and runs on linux/amd64 only; it opens "
                "/dev/net/tun, so the kube-flannel container runs privileged"
            )
        objects = self.load_manifest()
        owned = set([("ConfigMap", self.spec["configmap"]), ("DaemonSet", self.spec["daemonset"])])

        # Everything the manifest has that the cluster lacks; existing objects are adopted as they are.
        for obj in objects:
            if (obj["kind"], obj["metadata"]["name"]) in owned:
                continue
            api_version, kind, namespace, name = object_key(obj)
            live = self.client.get(api_version, kind, name, namespace)
            if live is None or kind == "Deployment":  # Deployments only for the image registry
                self.ensure(
                    live,
                    lambda current, o=obj: self.desired_workload(current if current else o),
                    lambda a=api_version, k=kind, n=name, ns=namespace: self.client.get(a, k, n, ns),
                    "strategic",
                )
        if req.cni == "calico" and not self.check_mode and self.created:
            self.wait_crd("ippools.crd.projectcalico.org")

        manifest_configmap = find(objects, "ConfigMap", self.spec["configmap"])
        manifest_daemonset = find(objects, "DaemonSet", self.spec["daemonset"])
        old_conf = self.live_net_conf(self.configmap) if is_flannel_networking(req.cni) else None
        old_calico_backend = ((self.configmap or {}).get("data") or {}).get("calico_backend")
        self.old_backend = (
            flannel.live_backend_type(old_conf)
            if old_conf is not None
            else calico.backend_of(old_calico_backend, (self.pool or {}).get("spec") or {})
        )
        installing = self.daemonset is None

        if req.cni == "calico" and not installing and old_calico_backend == "vxlan" and req.backend != "vxlan":
            # Leaving vxlan: BIRD must run everywhere before a pool needs it (cni-facts §6).
            self.write_config_and_daemonset(manifest_configmap, manifest_daemonset)
            self.wait_for_restart()
            self.write_calico_pool()
        else:
            if req.cni == "calico":
                self.write_calico_pool()
            self.write_config_and_daemonset(manifest_configmap, manifest_daemonset)
            self.wait_for_restart()

        self.report(old_conf, installing)
        return self.result

    def write_config_and_daemonset(self, manifest_configmap, manifest_daemonset):
        spec, req = self.spec, self.req
        namespace = spec["namespace"]

        def read_configmap():
            return self.client.get("v1", "ConfigMap", spec["configmap"], namespace)

        def read_daemonset():
            return self.client.get("apps/v1", "DaemonSet", spec["daemonset"], namespace)

        configs = {}

        def make_configmap(live):
            desired, configs["started_with"] = self.desired_config(live if live is not None else manifest_configmap)
            return desired

        self.configmap, config_changed = self.ensure(self.configmap, make_configmap, read_configmap)
        new_hash = config_hash(configs["started_with"])
        live_template = (self.daemonset or {}).get("spec", {}).get("template", {}).get("metadata") or {}
        running_hash = (live_template.get("annotations") or {}).get(CONFIG_HASH)
        # Pods read the config at start only: restart when it changed, or when the pods run an older one.
        stale = config_changed or (running_hash is not None and running_hash != new_hash)
        marker = None
        if self.daemonset is None or (stale and req.restart != "never"):
            marker = {CONFIG_HASH: new_hash}
        if req.restart == "always" and self.daemonset is not None:
            marker = {CONFIG_HASH: new_hash, RESTARTED_AT: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if stale and req.restart == "never":
            self.warn(
                "restart=never: the %s pods keep the previous configuration until they are restarted"
                % spec["daemonset"]
            )
        self.old_pods = []
        # Any change of the pod template replaces the pods: remember which ones ran before it.
        if self.daemonset is not None and merge_patch(
            strip_volatile(self.daemonset), strip_volatile(self.desired_workload(self.daemonset, marker))
        ):
            self.old_pods = self.client.list("v1", "Pod", namespace, label_selector=spec["pod_selector"])
        base = self.daemonset if self.daemonset is not None else manifest_daemonset
        self.daemonset, self.daemonset_changed = self.ensure(
            self.daemonset,
            lambda live: self.desired_workload(live if live is not None else base, marker),
            read_daemonset,
            "strategic",
        )
        if self.old_pods and is_flannel_networking(req.cni) and not self.check_mode:
            # Nodes on different flannel backends cannot reach each other: replace every pod at once,
            # not one node at a time as the DaemonSet's rolling update would.
            for pod in self.old_pods:
                self.client.delete("v1", "Pod", pod["metadata"]["name"], namespace, uid=pod["metadata"]["uid"])
        if self.old_pods and self.daemonset_changed:
            self.restarted = sorted(pod["metadata"]["name"] for pod in self.old_pods)

    def write_calico_pool(self):
        req, spec = self.req, self.spec
        modes = calico.pool_modes(req.backend, req.encapsulation)
        name = self.pool["metadata"]["name"] if self.pool else spec["ippool"]

        def make_pool(live):
            return calico.desired_ippool(live, name, self.pod_cidr, spec["ippool_block_size"], modes)

        self.pool = self.ensure(self.pool, make_pool, lambda: self.client.get(calico.IPPOOL_API, "IPPool", name))[0]
        if self.felix is not None:
            self.felix = self.ensure(
                self.felix,
                lambda live: calico.desired_felix_configuration(live, modes),
                lambda: self.client.get(calico.IPPOOL_API, "FelixConfiguration", "default"),
            )[0]

    # -- waiting ---------------------------------------------------------------------------------
    def wait_crd(self, name):
        def established(crds):
            conditions = [c for crd in crds.values() for c in (crd.get("status") or {}).get("conditions") or []]
            return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

        if not self.watch_until(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            "metadata.name=%s" % name,
            None,
            established,
            60,
        ):
            raise KubeError("CRD %s was not established within 60s" % name)

    def wait_for_restart(self):
        if self.check_mode or not self.req.wait or not self.daemonset_changed:
            return
        spec, namespace = self.spec, self.spec["namespace"]
        old_uids = set(pod["metadata"]["uid"] for pod in self.old_pods)
        timeout = self.req.wait_timeout
        started = time.time()
        final = {}

        def daemonset_done(items):
            final.update(next((ds for ds in items.values() if rolled_out(ds)), {}))
            return bool(final)

        done = self.watch_until(
            "apps/v1", "DaemonSet", namespace, "metadata.name=%s" % spec["daemonset"], None, daemonset_done, timeout
        )
        nodes = self.nodes
        if done:
            wanted = final["status"].get("desiredNumberScheduled", 0)

            def pods_replaced(pods):
                fresh = [p for p in pods.values() if p["metadata"]["uid"] not in old_uids and pod_ready(p)]
                return len(fresh) >= wanted and not any(uid in old_uids for uid in pods)

            done = self.watch_until(
                "v1",
                "Pod",
                namespace,
                None,
                spec["pod_selector"],
                pods_replaced,
                max(1, timeout - (time.time() - started)),
            )
        if not done:
            pods = self.client.list("v1", "Pod", namespace, label_selector=spec["pod_selector"])
            raise KubeError(
                "%s did not finish restarting within %ss; nodes without a new ready pod: %s"
                % (
                    spec["daemonset"],
                    timeout,
                    ", ".join(lagging_nodes(pods, nodes, old_uids)) or "(none; old pods still terminating)",
                )
            )

    def watch_until(self, api_version, kind, namespace, field_selector, label_selector, predicate, timeout):
        """List, then watch from that list's resourceVersion until predicate(objects by uid) holds."""
        items, version = self.client.list_with_version(
            api_version, kind, namespace, label_selector=label_selector, field_selector=field_selector
        )
        objects = dict((obj["metadata"]["uid"], obj) for obj in items)
        if predicate(objects):
            return True
        for event, obj in self.client.watch(
            api_version,
            kind,
            namespace,
            field_selector=field_selector,
            label_selector=label_selector,
            timeout=timeout,
            resource_version=version,
        ):
            if event == "DELETED":
                objects.pop(obj["metadata"]["uid"], None)
            else:
                objects[obj["metadata"]["uid"]] = obj
            if predicate(objects):
                return True
        return False

    # -- reporting -------------------------------------------------------------------------------
    def report(self, old_conf, installing):
        req = self.req
        result = self.result
        result.update(
            changed=bool(self.created or self.updated or self.restarted),
            cni=req.cni,
            backend=req.backend,
            pod_cidr=self.pod_cidr,
            version=image_tag(
                self.daemonset,
                self.spec.get("flannel_container") if req.cni == "flannel" else self.spec["calico_container"],
            ),
            created=self.created,
            updated=self.updated,
            restarted=self.restarted,
            stale_node_state=[],
            workloads_to_restart=[],
        )
        if req.cni == "calico":
            result["encapsulation"] = req.encapsulation
        if installing or not self.updated:
            return
        if old_conf is not None:
            result["stale_node_state"] = stale_node_state(old_conf, self.live_net_conf(self.configmap), self.nodes)
            if result["stale_node_state"]:
                self.warn(
                    "flannel does not remove what the %s backend left on the nodes (see stale_node_state); "
                    "delete those devices and routes, or reboot the nodes" % self.old_backend
                )
        if self.old_backend in self.spec["backends"] and mtu_overhead(req.cni, req.backend) > mtu_overhead(
            req.cni, self.old_backend
        ):
            self.report_mtu_workloads()

    def report_mtu_workloads(self):
        if self.check_mode:
            return
        pods = self.client.list("v1", "Pod")
        workloads = sorted(
            "%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in pods
            if not p["spec"].get("hostNetwork") and p["status"].get("phase") == "Running"
        )
        self.result["workloads_to_restart"] = workloads
        if workloads:
            self.warn(
                "the new backend's MTU is smaller; %d running pods keep the old MTU on their interfaces "
                "until they are restarted (see workloads_to_restart)" % len(workloads)
            )


def _dump(value):
    if yaml is None:
        return json.dumps(value, indent=2, sort_keys=True) + "\n"
    return yaml.dump(value, Dumper=_DiffDumper, default_flow_style=False, sort_keys=True)


if yaml is not None:

    class _DiffDumper(yaml.SafeDumper):
        """Multi-line strings (net-conf.json) as blocks, so a diff shows the changed line."""

    def _represent_str(dumper, text):
        style = "|" if "\n" in text else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)

    _DiffDumper.add_representer(str, _represent_str)


def node_summary(node):
    """A node as the site summary shows it: Ready, kubelet version, address, podCIDR."""
    status = node.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    addresses = [a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"]
    return {
        "name": node["metadata"]["name"],
        "ready": bool(ready) and ready[0].get("status") == "True",
        "kubelet_version": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        "internal_ip": addresses[0] if addresses else None,
        "pod_cidr": (node.get("spec") or {}).get("podCIDR"),
    }


def inspect(client, wanted=None):
    """What cni_info reports: the installed CNI, its version, backend and pod CIDR, node podCIDRs, drift."""
    found = None
    for name in CNI_NAMES:
        spec = CNIS[name]
        daemonset = client.get("apps/v1", "DaemonSet", spec["daemonset"], spec["namespace"])
        if daemonset is not None:
            found = (name, spec, daemonset)
            break
    node_list = [node_summary(n) for n in client.list("v1", "Node")]
    nodes = dict((n["name"], n["pod_cidr"]) for n in node_list)
    kubeadm_subnet = kubeadm_pod_subnet(client.get("v1", "ConfigMap", "kubeadm-config", "kube-system"))
    info = {
        "cni": None,
        "version": None,
        "backend": None,
        "pod_cidr": None,
        "encapsulation": None,
        "kubeadm_pod_subnet": kubeadm_subnet,
        "node_pod_cidrs": nodes,
        "nodes": node_list,
        "pods_run_current_config": None,
        "drift": [],
    }
    if found:
        name, spec, daemonset = found
        configmap = client.get("v1", "ConfigMap", spec["configmap"], spec["namespace"]) or {}
        data = configmap.get("data") or {}
        info["cni"] = name
        info["version"] = image_tag(
            daemonset, spec.get("flannel_container") if name == "flannel" else spec["calico_container"]
        )
        if is_flannel_networking(name):
            conf = flannel.parse_net_conf(data.get(flannel.NET_CONF_KEY, "{}"), "ConfigMap %s" % spec["configmap"])
            info["backend"] = flannel.live_backend_type(conf)
            info["pod_cidr"] = conf.get("Network")
            started_with = {"net-conf.json": conf}
        else:
            pools = [p for p in client.list(calico.IPPOOL_API, "IPPool") if p["metadata"]["name"] == spec["ippool"]]
            modes = pools[0]["spec"] if pools else {}
            info["backend"] = calico.backend_of(data.get("calico_backend"), modes)
            mode_field = CALICO_BACKENDS.get(info["backend"], {}).get("pool_mode")
            info["encapsulation"] = modes.get(mode_field) if mode_field else None
            info["pod_cidr"] = modes.get("cidr")
            started_with = {"calico_backend": data.get("calico_backend"), "veth_mtu": data.get("veth_mtu")}
        annotations = (daemonset["spec"]["template"].get("metadata") or {}).get("annotations") or {}
        if CONFIG_HASH in annotations:
            info["pods_run_current_config"] = annotations[CONFIG_HASH] == config_hash(started_with)
    for key, value in sorted((wanted or {}).items()):
        if value is None:
            continue
        live = info.get(key)
        wanted_value = normalize_backend(info["cni"], value) if key == "backend" and info["cni"] else value
        if live != wanted_value:
            info["drift"].append({"field": key, "wanted": wanted_value, "live": live})
    return info
