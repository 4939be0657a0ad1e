# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flannel networking (Flannel and Canal): net-conf.json as pure functions, and the family's driver."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    ANNOTATION_PREFIX,
    FLANNEL_BACKENDS,
    NODE_ADDRESS_METHODS,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.driver import CniDriver
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import by_family, cidr_items

NET_CONF_KEY = "net-conf.json"
# Marks a privilege this collection granted, so that only that one is taken back.
PRIVILEGED_BY_BACKEND = ANNOTATION_PREFIX + "privileged-for-udp"


def parse_net_conf(text, where):
    """The live net-conf.json as a dict; a clear error if it is not a JSON object."""
    try:
        conf = json.loads(text)
    except ValueError as exc:
        raise LiveStateError(
            "%s: net-conf.json is not valid JSON (%s); fix the key by hand (kubectl edit) and run again" % (where, exc)
        ) from None
    if not isinstance(conf, dict):
        raise LiveStateError("%s: net-conf.json must be a JSON object, found %s" % (where, type(conf).__name__))
    return conf


def desired_net_conf(live, pod_cidr, backend, backend_keys):
    """net-conf.json as it must be: keys flannel owns and we do not (EnableNFTables, …) survive.

    Backend options of the same backend type survive too; a new backend type starts from its own
    keys only, since another backend's options mean nothing to it. Backend.Type is always written:
    without it flannel silently falls back to udp.
    """
    conf = copy.deepcopy(live) if live else {}
    networks = by_family(pod_cidr)
    conf["Network"] = str(networks[4])
    if 6 in networks:
        # flanneld reads each family's switch; EnableIPv4 is its default, written so the file says both.
        conf.update({"EnableIPv4": True, "EnableIPv6": True, "IPv6Network": str(networks[6])})
    live_backend = conf.get("Backend") if isinstance(conf.get("Backend"), dict) else {}
    new_backend = dict(live_backend) if live_backend.get("Type") == backend else {}
    new_backend["Type"] = backend
    new_backend.update(backend_keys)
    conf["Backend"] = new_backend
    return conf


def dump_net_conf(conf):
    return json.dumps(conf, indent=2, sort_keys=False) + "\n"


def net_conf_networks(conf):
    """The pod networks a net-conf.json configures, as kubeadm's comma string: Network, and IPv6Network where
    EnableIPv6 is on (flanneld ignores it otherwise)."""
    networks = [conf.get("Network")] if conf.get("EnableIPv4", True) else []
    if conf.get("EnableIPv6"):
        networks.append(conf.get("IPv6Network"))
    return ",".join(network for network in networks if network) or None


def dual_stack_mtu(request, pod_cidr):
    """{"MTU": …} that makes pods fit the backend's IPv6 path on a dual-stack network, from node_mtu; {} where mtu
    is given, the network is IPv4 only or the backend's IPv6 path costs no more than its IPv4 one."""
    backend = FLANNEL_BACKENDS[request.backend]
    if 6 not in by_family(pod_cidr) or "ipv6_overhead" not in backend or request.mtu or not request.node_mtu:
        return {}
    return {"MTU": request.node_mtu - (backend["ipv6_overhead"] - backend["overhead"])}


def live_backend_type(conf):
    backend = conf.get("Backend")
    if not isinstance(backend, dict):
        return "udp"  # what flanneld does when Backend is missing (pkg/subnet/config.go)
    return backend.get("Type") or ""


def stale_devices(conf):
    """Devices the backend in `conf` creates on every node; stale once that backend is left."""
    spec = FLANNEL_BACKENDS.get(live_backend_type(conf), {})
    vni = (conf.get("Backend") or {}).get("VNI", 1) if isinstance(conf.get("Backend"), dict) else 1
    names = spec.get("devices", ()) + (spec.get("ipv6_devices", ()) if conf.get("EnableIPv6") else ())
    return [name.format(vni=vni) for name in names]


def stale_node_state(old_conf, new_conf, nodes):
    """What the old backend leaves on each node, which flannel never removes: its devices, and the
    routes through the node's NIC of a backend that routes without a device."""
    old_type, new_type = live_backend_type(old_conf), live_backend_type(new_conf)
    if old_type == new_type:
        return []
    devices = stale_devices(old_conf)
    leaves_routes = FLANNEL_BACKENDS.get(old_type, {}).get("node_routes", False)
    state = []
    for name in sorted(nodes):
        routes = []
        if leaves_routes:
            routes = [
                "%s via %s" % (cidr, gateway)
                for other_name, other in sorted(nodes.items())
                if other_name != name
                for cidr, gateway in node_gateways(other)
            ]
        state.append({"node": name, "devices": devices, "routes": routes})
    return state


def node_gateways(node):
    """(pod subnet, the node's address in that family) of each family host-gw routes: IPv4 through the node's
    InternalIP, IPv6 through the address flanneld published for it (its public-ipv6 annotation)."""
    gateways = {4: node["internal_ip"], 6: node.get("flannel_public_ipv6")}
    pairs = []
    for cidr in node.get("pod_cidrs") or cidr_items(node["pod_cidr"]):
        gateway = gateways[6 if ":" in cidr else 4]
        if gateway:
            pairs.append((cidr, gateway))
    return pairs


def set_backend_privilege(daemonset, container, backend):
    """A backend that needs a privileged container gets one; leaving it takes back only what we granted."""
    annotations = daemonset["metadata"].setdefault("annotations", {})
    context = container.setdefault("securityContext", {})
    if FLANNEL_BACKENDS[backend].get("privileged") and not context.get("privileged"):
        context["privileged"] = True
        annotations[PRIVILEGED_BY_BACKEND] = "true"
    elif not FLANNEL_BACKENDS[backend].get("privileged") and annotations.pop(PRIVILEGED_BY_BACKEND, None):
        context["privileged"] = False
    if not annotations:
        daemonset["metadata"].pop("annotations")


ADDRESS_ENV = tuple(sorted(set(m["flannel"] for m in NODE_ADDRESS_METHODS.values() if m.get("flannel"))))


def set_node_address(container, node_address):
    """flanneld's interface choice as its FLANNELD_* env var (flanneld reads them as its --iface* flags); the other
    ones of ours (plain values) go. Canal's FLANNELD_IFACE from canal-config stays unless interface= replaces it;
    --iface* arguments go, since a flag given on the command line wins over its env var."""
    method, value = node_address
    wanted = NODE_ADDRESS_METHODS[method]["flannel"]
    for field in ("command", "args"):
        if container.get(field):
            container[field] = [arg for arg in container[field] if not arg.startswith("--iface")]
    env = [
        item
        for item in container.get("env") or []
        if item["name"] == wanted or item["name"] not in ADDRESS_ENV or "valueFrom" in item
    ]
    names = [item["name"] for item in env]
    if wanted in names:
        env[names.index(wanted)] = {"name": wanted, "value": value}  # in place: env's order is part of the template
    elif wanted:
        env.append({"name": wanted, "value": value})
    container["env"] = env


class FlannelDriver(CniDriver):
    replace_pods_at_once = True
    pods_share_a_bridge = True  # cni0

    def where(self):
        return "ConfigMap %s/%s" % (self.spec["namespace"], self.spec["configmap"])

    def net_conf(self, configmap):
        """The ConfigMap's net-conf.json, None without a ConfigMap; a ConfigMap without it is refused."""
        text = ((configmap or {}).get("data") or {}).get(NET_CONF_KEY)
        if text is None:
            if configmap is not None:
                raise LiveStateError(
                    "%s has no %s key; restore it or delete the ConfigMap to have it re-created"
                    % (self.where(), NET_CONF_KEY)
                )
            return None
        return parse_net_conf(text, self.where())

    def live_backend(self, live):
        conf = self.net_conf(live.configmap)
        return live_backend_type(conf) if conf is not None else None

    def live_pod_cidr(self, live):
        conf = self.net_conf(live.configmap)
        return net_conf_networks(conf) if conf else None

    def started_with(self, configmap):
        return {NET_CONF_KEY: self.net_conf(configmap) or {}}

    def check_nodes(self, live, pod_cidr):
        families = set(by_family(pod_cidr))
        missing = sorted(
            name
            for name, node in live.nodes.items()
            if families - set(6 if ":" in cidr else 4 for cidr in node["pod_cidrs"])
        )
        if missing:
            raise LiveStateError(
                "nodes without a spec.podCIDRs subnet of each family of %s: %s; %s takes each node's subnets from it, "
                "so kube-controller-manager must run with --allocate-node-cidrs=true --cluster-cidr=%s "
                "(kubeadm networking.podSubnet)" % (pod_cidr, ", ".join(missing), self.cni, pod_cidr)
            )

    def desired_configmap(self, configmap, request, pod_cidr, warn):
        desired = copy.deepcopy(configmap)
        live_conf = self.net_conf(configmap) or {}
        live_backend = live_conf.get("Backend") if isinstance(live_conf.get("Backend"), dict) else {}
        kept_mtu = live_backend.get("Type") == request.backend and "MTU" in live_backend
        keys = dict(request.flannel_keys, **({} if kept_mtu else dual_stack_mtu(request, pod_cidr)))
        conf = desired_net_conf(live_conf, pod_cidr, request.backend, keys)
        backend = FLANNEL_BACKENDS[request.backend]
        if 6 in by_family(pod_cidr) and "ipv6_overhead" in backend and "MTU" not in conf["Backend"]:
            warn(
                "flannel gives pods the %s backend's IPv4 MTU (the interface's minus %d) while its IPv6 device "
                "carries the interface's minus %d: full-size IPv6 packets are dropped until path MTU discovery "
                "lowers them (flannel-io/flannel#1781). Give node_mtu (the roles take it from the nodes' facts) or "
                "mtu=<the nodes' MTU minus %d>"
                % (
                    request.backend,
                    backend["overhead"],
                    backend["ipv6_overhead"],
                    backend["ipv6_overhead"] - backend["overhead"],
                )
            )
        if conf != live_conf:
            desired.setdefault("data", {})[NET_CONF_KEY] = dump_net_conf(conf)
        return desired

    def desired_daemonset(self, daemonset, request, pod_cidr):
        containers = daemonset["spec"]["template"]["spec"]["containers"]
        container = next(c for c in containers if c["name"] == self.spec["flannel_container"])
        set_backend_privilege(daemonset, container, request.backend)
        if request.node_address:
            set_node_address(container, request.node_address)
        return daemonset

    def report(self, runner, result):
        if runner.installing or not runner.writer.updated:
            return
        old_conf = self.net_conf(runner.live.configmap)
        if old_conf is None:
            return
        result["stale_node_state"] = stale_node_state(old_conf, self.net_conf(runner.configmap), runner.live.nodes)
        if result["stale_node_state"]:
            runner.warn(
                "flannel does not remove what the %s backend left on the nodes (see stale_node_state); "
                "delete those devices and routes, or reboot the nodes" % live_backend_type(old_conf)
            )
