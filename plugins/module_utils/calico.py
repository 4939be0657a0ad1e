# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico: its backend as objects (calico-config, calico-node's probes and env, the IPPool) as pure
functions, and the family's driver.

A Calico backend is not one ConfigMap key: `calico_backend` says whether BIRD runs (bird|vxlan|none;
never `ipip`), the IPPool's ipipMode/vxlanMode say which encapsulation is used, and calico-node's
probes must not check BIRD when it does not run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    CALICO_BACKENDS,
    CALICO_OPTIONS,
    CALICO_POOL_MODES,
    NODE_ADDRESS_METHODS,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.driver import CniDriver
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import by_family

BIRD_PROBE_FLAGS = {"livenessProbe": ("-felix-live", "-bird-live"), "readinessProbe": ("-felix-ready", "-bird-ready")}
POOL_ENV = {"ipipMode": "CALICO_IPV4POOL_IPIP", "vxlanMode": "CALICO_IPV4POOL_VXLAN"}
POOL_CIDR_ENV = "CALICO_IPV4POOL_CIDR"
ADDRESS_ENV = "IP_AUTODETECTION_METHOD"
IPPOOL_API = "crd.projectcalico.org/v1"
FELIX_ENCAP_FIELDS = {"ipipMode": "ipipEnabled", "vxlanMode": "vxlanEnabled"}
# What calico-node needs to give pods IPv6 addresses too (Calico docs, networking/ipam/ipv6, "Enable dual stack"):
# the IPv6 pool it creates at first start, an IPv6 address of its own, Felix's IPv6 data plane; and the CNI
# configuration's assign_ipv6.
IPV6_POOL_ENV = {"cidr": "CALICO_IPV6POOL_CIDR", "vxlanMode": "CALICO_IPV6POOL_VXLAN"}
# NAT_OUTGOING: the pool calico-node would recreate from this env is then the one written (natOutgoing: true).
IPV6_ENV = {"IP6": "autodetect", "FELIX_IPV6SUPPORT": "true", "CALICO_IPV6POOL_NAT_OUTGOING": "true"}
ADDRESS_ENV_IPV6 = "IP6_AUTODETECTION_METHOD"
CNI_CONFIG_KEY = "cni_network_config"
# calico-ipam's object in cni_network_config, which is a template (__CNI_MTU__ is not JSON), so edited as text.
CALICO_IPAM_RE = re.compile(r'^([ \t]*)("type"\s*:\s*"calico-ipam")([^{}]*)(\})', re.MULTILINE)
ASSIGN_RE = re.compile(r'\s*,\s*"assign_ipv[46]"\s*:\s*"[^"]*"')


def pool_modes(backend, encapsulation):
    """IPPool ipipMode and vxlanMode for a backend: at most one of them is not Never."""
    modes = {"ipipMode": "Never", "vxlanMode": "Never"}
    field = CALICO_BACKENDS[backend]["pool_mode"]
    if field:
        modes[field] = encapsulation
    return modes


def check_pool_modes(pool):
    """Validate a live pool's modes ourselves: Calico 3.26's CRD accepts any string."""
    spec = pool.get("spec", {})
    for field in POOL_ENV:
        value = spec.get(field, "Never")
        if value not in CALICO_POOL_MODES:
            raise LiveStateError(
                "IPPool %s has %s=%r, which calico-node does not accept (%s); fix it with kubectl edit"
                % (pool["metadata"]["name"], field, value, "|".join(CALICO_POOL_MODES))
            )


def backend_of(calico_backend, modes):
    """The backend name a live calico-config value and pool modes amount to."""
    if calico_backend == "vxlan" or modes.get("vxlanMode", "Never") != "Never":
        return "vxlan"
    if modes.get("ipipMode", "Never") != "Never":
        return "ipip"
    return "bgp" if calico_backend in ("bird", None, "") else calico_backend


def ipv6_pool_modes(backend, encapsulation):
    """An IPv6 pool's modes: the backend's VXLAN mode, never IPIP (which IPv6 pools cannot have)."""
    modes = pool_modes(backend, encapsulation)
    modes["ipipMode"] = "Never"
    return modes


def desired_ippool(live, name, pod_cidr, block_size, modes):
    """A default pool: created as calico-node would at first start, then only its modes change."""
    if live is None:
        spec = {"cidr": pod_cidr, "blockSize": block_size, "natOutgoing": True, "nodeSelector": "all()"}
        spec.update(modes)
        return {"apiVersion": IPPOOL_API, "kind": "IPPool", "metadata": {"name": name}, "spec": spec}
    pool = copy.deepcopy(live)
    pool["spec"].update(modes)
    return pool


def desired_felix_configuration(live, modes, features=None):
    """FelixConfiguration derives encapsulation from the pools, unless ipipEnabled/vxlanEnabled are set
    explicitly; an explicit value that contradicts the new pool modes is turned to agree (modes None: left, as on an
    operator install, where they are the operator's). features: the CALICO_OPTIONS asked for ({"wireguard": True});
    None leaves a feature as it is. Without a live one (calico-node creates it at first start) one is made only to
    turn a feature on or off."""
    wanted = dict(
        (CALICO_OPTIONS[name]["felix"], value) for name, value in (features or {}).items() if value is not None
    )
    if live is None:
        if not wanted:
            return None
        live = {"apiVersion": IPPOOL_API, "kind": "FelixConfiguration", "metadata": {"name": "default"}, "spec": {}}
    felix = copy.deepcopy(live)
    spec = felix.setdefault("spec", {})
    for mode_field, felix_field in FELIX_ENCAP_FIELDS.items():
        if modes is not None and felix_field in spec:
            spec[felix_field] = modes[mode_field] != "Never"
    spec.update(wanted)
    return felix


def write_felix_configuration(runner, modes):
    """FelixConfiguration default with the request's features, written only where it differs (or must exist to turn
    a feature on). modes None: its encapsulation fields are left alone, as on an operator install."""
    live, client = runner.live, runner.client
    features = {"wireguard": runner.req.wireguard}
    if desired_felix_configuration(live.felix, modes, features) is None:
        return
    live.felix = runner.writer.ensure(
        live.felix,
        lambda current: desired_felix_configuration(current, modes, features),
        lambda: client.get(IPPOOL_API, "FelixConfiguration", "default"),
    )[0]


def felix_features(felix):
    """The CALICO_OPTIONS a FelixConfiguration has on: {"wireguard": bool}."""
    spec = (felix or {}).get("spec") or {}
    return dict((name, bool(spec.get(option["felix"]))) for name, option in CALICO_OPTIONS.items())


def desired_probe_command(command, probe, bird_runs):
    """calico-node's exec probe with -bird-live/-bird-ready present exactly when BIRD runs."""
    felix_flag, bird_flag = BIRD_PROBE_FLAGS[probe]
    command = [arg for arg in command if arg != bird_flag]
    if bird_runs:
        index = command.index(felix_flag) + 1 if felix_flag in command else len(command)
        command.insert(index, bird_flag)
    return command


def ipv6_node_address(node_address):
    """The node address method for IPv6: the same where it names interfaces (or none), first-found where its value is
    of IPv4 (a CIDR or an address to reach), which would find no IPv6 address."""
    method, value = node_address
    if method in ("cidr", "can-reach") and ":" not in value:
        return ("first-found", None)
    return node_address


def autodetection_method(node_address):
    """IP_AUTODETECTION_METHOD for node_address (method, value); an interface name matches only itself."""
    method, value = node_address
    if method == "interface":
        value = re.escape(value)
    return NODE_ADDRESS_METHODS[method]["calico"].format(value)


def desired_cni_network_config(text):
    """cni_network_config with calico-ipam assigning an address of each family (assign_ipv4/assign_ipv6)."""

    def assign_both(match):
        indent, kind, rest, brace = match.groups()
        rest = ASSIGN_RE.sub("", rest)
        closing = rest[len(rest.rstrip()) :]
        pad = ",\n" + indent
        assign = pad + '"assign_ipv4": "true"' + pad + '"assign_ipv6": "true"'
        return indent + kind + rest.rstrip() + assign + closing + brace

    return CALICO_IPAM_RE.sub(assign_both, text, count=1)


def desired_calico_container(container, backend, encapsulation, pod_cidr, node_address=None):
    """The calico-node container: probes for the backend and the pool env calico-node would use to
    recreate the default pool, kept equal to the live pool so a recreated pool is the same; the node
    address method when one is asked for. With an IPv6 network: the IPv6 pool's env, IP6 and Felix's IPv6."""
    container = copy.deepcopy(container)
    bird_runs = CALICO_BACKENDS[backend]["calico_backend"] == "bird"
    for probe in BIRD_PROBE_FLAGS:
        command = ((container.get(probe) or {}).get("exec") or {}).get("command")
        if command:
            container[probe]["exec"]["command"] = desired_probe_command(command, probe, bird_runs)
    networks = by_family(pod_cidr)
    wanted_env = dict((POOL_ENV[field], value) for field, value in pool_modes(backend, encapsulation).items())
    wanted_env[POOL_CIDR_ENV] = str(networks[4])
    if node_address:
        wanted_env[ADDRESS_ENV] = autodetection_method(node_address)
    if 6 in networks:
        wanted_env.update(IPV6_ENV)
        wanted_env[IPV6_POOL_ENV["cidr"]] = str(networks[6])
        wanted_env[IPV6_POOL_ENV["vxlanMode"]] = ipv6_pool_modes(backend, encapsulation)["vxlanMode"]
        if node_address:
            wanted_env[ADDRESS_ENV_IPV6] = autodetection_method(ipv6_node_address(node_address))
    env = container.setdefault("env", [])
    for item in env:
        if item.get("name") in wanted_env:
            item.pop("valueFrom", None)
            item["value"] = wanted_env.pop(item["name"])
    for name in sorted(wanted_env):
        env.append({"name": name, "value": wanted_env[name]})
    return container


def backend_pool_index(pools, default_name, name_of, cidr_of, family=4):
    """Which of the pools the backend lives in: the default-named one of the family, or the only one of it (adopted
    under its name); None when neither. name_of/cidr_of read an IPPool or an Installation's ipPools entry."""
    same = [i for i, pool in enumerate(pools) if (":" in cidr_of(pool)) == (family == 6)]
    named = [i for i in same if name_of(pools[i]) == default_name]
    return (named or (same if len(same) == 1 else [None]))[0]


def pick_pool(pools, default_name, family=4):
    """The IPPool the backend lives in (backend_pool_index), or None; family 6: the IPv6 one, by the same rule."""
    index = backend_pool_index(
        pools, default_name, lambda p: p["metadata"]["name"], lambda p: p["spec"].get("cidr", ":"), family
    )
    return None if index is None else pools[index]


class CalicoDriver(CniDriver):
    crds = ("ippools.crd.projectcalico.org", "felixconfigurations.crd.projectcalico.org")
    managed_env = (*POOL_ENV.values(), POOL_CIDR_ENV, *IPV6_POOL_ENV.values(), *IPV6_ENV)

    def read(self, client, live):
        pools = client.list(IPPOOL_API, "IPPool")
        live.pool = pick_pool(pools, self.spec["ippool"])
        live.pool6 = pick_pool(pools, self.spec["ippool_ipv6"], family=6)
        for pool in (live.pool, live.pool6):
            if pool:
                check_pool_modes(pool)
        live.felix = client.get(IPPOOL_API, "FelixConfiguration", "default")

    def pool_spec(self, live):
        return (live.pool or {}).get("spec") or {}

    def live_backend(self, live):
        data = (live.configmap or {}).get("data") or {}
        if live.configmap is None and live.pool is None:
            return None
        return backend_of(data.get("calico_backend"), self.pool_spec(live))

    def live_pod_cidr(self, live):
        cidrs = [(pool or {}).get("spec", {}).get("cidr") for pool in (live.pool, live.pool6)]
        return ",".join(cidr for cidr in cidrs if cidr) or None

    def live_encapsulation(self, live):
        field = CALICO_BACKENDS.get(self.live_backend(live), {}).get("pool_mode")
        return self.pool_spec(live).get(field) if field else None

    def started_with(self, configmap):
        data = (configmap or {}).get("data") or {}
        return {"calico_backend": data.get("calico_backend"), "veth_mtu": data.get("veth_mtu")}

    def desired_configmap(self, configmap, request, pod_cidr, warn):
        desired = copy.deepcopy(configmap)
        data = desired.setdefault("data", {})
        wanted = CALICO_BACKENDS[request.backend]["calico_backend"]
        if data.get("calico_backend") == "ipip":
            warn(
                "calico-config had calico_backend: ipip, which calico-node silently runs as bird; "
                "rewriting it as %s" % wanted
            )
        data["calico_backend"] = wanted
        if 6 in by_family(pod_cidr) and CNI_CONFIG_KEY in data:
            data[CNI_CONFIG_KEY] = desired_cni_network_config(data[CNI_CONFIG_KEY])
        if request.mtu is not None:
            data["veth_mtu"] = str(request.mtu)
        return desired

    def desired_daemonset(self, daemonset, request, pod_cidr):
        containers = daemonset["spec"]["template"]["spec"]["containers"]
        index = next(i for i, c in enumerate(containers) if c["name"] == self.spec["calico_container"])
        containers[index] = desired_calico_container(
            containers[index], request.backend, request.encapsulation, pod_cidr, request.node_address
        )
        return daemonset

    def apply(self, runner, installing):
        live_value = ((runner.live.configmap or {}).get("data") or {}).get("calico_backend")
        if not installing and live_value == "vxlan" and runner.req.backend != "vxlan":
            # Leaving vxlan: BIRD must run on every node before a pool needs it, since BGP distributes the
            # routes of IP-in-IP and unencapsulated pools (Calico docs, networking/configuring/vxlan-ipip).
            runner.write_config_and_daemonset()
            runner.wait_for_restart()
            self.write_pool(runner)
        else:
            self.write_pool(runner)
            runner.write_config_and_daemonset()
            runner.wait_for_restart()

    def write_pool(self, runner):
        live = runner.live
        req = runner.req
        modes = pool_modes(req.backend, req.encapsulation)
        networks = by_family(runner.pod_cidr)
        live.pool = self.ensure_pool(runner, live.pool, "ippool", networks[4], modes)
        if 6 in networks:
            live.pool6 = self.ensure_pool(
                runner, live.pool6, "ippool_ipv6", networks[6], ipv6_pool_modes(req.backend, req.encapsulation)
            )
        write_felix_configuration(runner, modes)

    def ensure_pool(self, runner, live_pool, spec_key, network, modes):
        """The pool of one family, as desired_ippool makes it; spec_key names its default name and block size."""
        name = live_pool["metadata"]["name"] if live_pool else self.spec[spec_key]
        block_size = self.spec[spec_key + "_block_size"]
        return runner.writer.ensure(
            live_pool,
            lambda current: desired_ippool(current, name, str(network), block_size, modes),
            lambda: runner.client.get(IPPOOL_API, "IPPool", name),
        )[0]

    def report(self, runner, result):
        result["encapsulation"] = runner.req.encapsulation
        result["wireguard"] = felix_features(runner.live.felix)["wireguard"]
        if result["wireguard"]:
            result["mtu_overhead"] += CALICO_OPTIONS["wireguard"]["overhead"]
            if runner.req.mtu:
                runner.warn(
                    "mtu=%d is used as veth_mtu as given: with WireGuard on, pods need the nodes' MTU minus %d (or 0, "
                    "which Calico detects)" % (runner.req.mtu, result["mtu_overhead"])
                )
