# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico's backend as objects, as pure functions: calico-config, calico-node's probes and env, IPPool.

A Calico backend is not one ConfigMap key: `calico_backend` says whether BIRD runs (bird|vxlan|none;
never `ipip`), the IPPool's ipipMode/vxlanMode say which encapsulation is used, and calico-node's
probes must not check BIRD when it does not run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    CALICO_BACKENDS,
    CALICO_ENCAPSULATION_MODES,
    CALICO_POOL_MODES,
    MatrixError,
)

BIRD_PROBE_FLAGS = {"livenessProbe": ("-felix-live", "-bird-live"), "readinessProbe": ("-felix-ready", "-bird-ready")}
POOL_ENV = {"ipipMode": "CALICO_IPV4POOL_IPIP", "vxlanMode": "CALICO_IPV4POOL_VXLAN"}
POOL_CIDR_ENV = "CALICO_IPV4POOL_CIDR"
IPPOOL_API = "crd.projectcalico.org/v1"
FELIX_ENCAP_FIELDS = {"ipipMode": "ipipEnabled", "vxlanMode": "vxlanEnabled"}


def validate_encapsulation(backend, encapsulation):
    """The mode of the backend's encapsulation (Always|CrossSubnet); bgp has none."""
    if CALICO_BACKENDS[backend]["pool_mode"] is None:
        if encapsulation not in (None, "Never"):
            raise MatrixError(
                "encapsulation=%s does not apply to backend bgp (no encapsulation); "
                "use backend=ipip or backend=vxlan with it" % encapsulation
            )
        return None
    if encapsulation is None:
        return "Always"
    if encapsulation not in CALICO_ENCAPSULATION_MODES:
        raise MatrixError(
            "encapsulation=%r is not valid for backend %s; use one of: %s"
            % (encapsulation, backend, ", ".join(CALICO_ENCAPSULATION_MODES))
        )
    return encapsulation


def validate_calico_backend_value(value):
    """Reject what popular write-ups put into calico-config and calico-node silently treats as bird."""
    if value == "ipip":
        raise MatrixError(
            "calico_backend: ipip is not a Calico value (it takes bird, vxlan or none; anything else silently "
            "runs BIRD). For IP-in-IP use backend=ipip, which writes calico_backend: bird and IPPool ipipMode"
        )


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
            raise MatrixError(
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


def desired_ippool(live, name, pod_cidr, block_size, modes):
    """The default IPv4 pool: created as calico-node would at first start, then only its modes change."""
    if live is None:
        spec = {"cidr": pod_cidr, "blockSize": block_size, "natOutgoing": True, "nodeSelector": "all()"}
        spec.update(modes)
        return {"apiVersion": IPPOOL_API, "kind": "IPPool", "metadata": {"name": name}, "spec": spec}
    pool = copy.deepcopy(live)
    pool["spec"].update(modes)
    return pool


def desired_felix_configuration(live, modes):
    """FelixConfiguration derives encapsulation from the pools, unless ipipEnabled/vxlanEnabled are set
    explicitly; an explicit value that contradicts the new pool modes is turned to agree."""
    if live is None:
        return None
    felix = copy.deepcopy(live)
    spec = felix.setdefault("spec", {})
    for mode_field, felix_field in FELIX_ENCAP_FIELDS.items():
        if felix_field in spec:
            spec[felix_field] = modes[mode_field] != "Never"
    return felix


def desired_probe_command(command, probe, bird_runs):
    """calico-node's exec probe with -bird-live/-bird-ready present exactly when BIRD runs."""
    felix_flag, bird_flag = BIRD_PROBE_FLAGS[probe]
    command = [arg for arg in command if arg != bird_flag]
    if bird_runs:
        index = command.index(felix_flag) + 1 if felix_flag in command else len(command)
        command.insert(index, bird_flag)
    return command


def desired_calico_container(container, backend, encapsulation, pod_cidr):
    """The calico-node container: probes for the backend and the pool env calico-node would use to
    recreate the default pool, kept equal to the live pool so a recreated pool is the same."""
    container = copy.deepcopy(container)
    bird_runs = CALICO_BACKENDS[backend]["calico_backend"] == "bird"
    for probe in BIRD_PROBE_FLAGS:
        command = ((container.get(probe) or {}).get("exec") or {}).get("command")
        if command:
            container[probe]["exec"]["command"] = desired_probe_command(command, probe, bird_runs)
    wanted_env = dict((POOL_ENV[field], value) for field, value in pool_modes(backend, encapsulation).items())
    wanted_env[POOL_CIDR_ENV] = pod_cidr
    env = container.setdefault("env", [])
    for item in env:
        if item.get("name") in wanted_env:
            item.pop("valueFrom", None)
            item["value"] = wanted_env.pop(item["name"])
    for name in sorted(wanted_env):
        env.append({"name": name, "value": wanted_env[name]})
    return container
