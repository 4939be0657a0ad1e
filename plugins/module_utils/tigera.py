# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico installed by the Tigera operator, as pure functions of its Installation (operator.tigera.io/v1).

The operator owns calico-node, the IP pools and the rest of Calico, and reverts direct edits of them; the one
place to change the backend is the Installation's calicoNetwork (ipPools[].encapsulation and bgp), which the
operator renders into calico-node and the IPPools. See docs/calico.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.kubeforge.cluster.plugins.module_utils.calico import (
    autodetection_method,
    backend_pool_index,
    ipv6_node_address,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    CNIS,
    OPERATOR_ADDRESS_FIELDS,
    OPERATOR_ENCAPSULATION,
    operator_bgp,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import by_family

OPERATOR = CNIS["calico"]["operator"]


def network(installation):
    """The Installation's calicoNetwork (a live object's, or {})."""
    return ((installation or {}).get("spec") or {}).get("calicoNetwork") or {}


def installation_pool_index(installation, default_name, family=4):
    """The index in calicoNetwork.ipPools of the pool the backend lives in (calico.backend_pool_index), of the
    family; None when there is none (an Installation that leaves the pools to the user, or a single-stack one)."""
    pools = network(installation).get("ipPools") or []
    return backend_pool_index(
        pools, default_name, lambda pool: pool.get("name"), lambda pool: pool.get("cidr", ""), family
    )


def installation_network(installation):
    """{backend, encapsulation, pod_cidr} of an Installation, from its backend pool (and its IPv6 pool's cidr)."""
    index = installation_pool_index(installation, CNIS["calico"]["ippool"])
    if index is None:
        return {"backend": None, "encapsulation": None, "pod_cidr": None}
    pools = network(installation)["ipPools"]
    pool = pools[index]
    backends = dict((value, key) for key, value in OPERATOR_ENCAPSULATION.items())
    backend, encapsulation = backends.get(pool.get("encapsulation") or OPERATOR["default_encapsulation"], (None, None))
    cidrs = [pool.get("cidr")]
    index6 = installation_pool_index(installation, CNIS["calico"]["ippool_ipv6"], family=6)
    if index6 is not None:
        cidrs.append(pools[index6].get("cidr"))
    return {"backend": backend, "encapsulation": encapsulation, "pod_cidr": ",".join(c for c in cidrs if c) or None}


def installation_pool(name, cidr, block_size, encapsulation):
    """An ipPools entry as upstream's custom-resources.yaml writes its one pool."""
    return {
        "name": name,
        "cidr": cidr,
        "blockSize": block_size,
        "encapsulation": encapsulation,
        "natOutgoing": "Enabled",
        "nodeSelector": "all()",
    }


def address_autodetection(node_address):
    """calicoNetwork.nodeAddressAutodetectionV4 for node_address (method, value): the same choice as the
    manifest install's IP_AUTODETECTION_METHOD, where an interface name matches only itself."""
    # The manifest's spelling says which of the operator's fields the method is, and its value there.
    method, _equals, value = autodetection_method(node_address).partition("=")
    field, fixed = OPERATOR_ADDRESS_FIELDS[method]
    if fixed is not None:
        return {field: fixed}
    if field == "cidrs":
        return {field: [cidr.strip() for cidr in value.split(",")]}
    return {field: value}


def check_expressible(installation, backend):
    """Refuse what the operator would reject or ignore, before anything is written (tigera/operator's
    Installation validation)."""
    spec = (installation or {}).get("spec") or {}
    cni = spec.get("cni") or {}
    if cni.get("type", "Calico") != "Calico":
        raise LiveStateError(
            "Installation %s has cni.type %s: Calico enforces policy only and its IP pools are not used, so it has no "
            "backend to switch; configure the pod network of %s instead"
            % (OPERATOR["installation"], cni["type"], cni["type"])
        )
    if backend == "vxlan" and (cni.get("ipam") or {}).get("type") == "HostLocal":
        raise LiveStateError(
            "Installation %s uses host-local IPAM (cni.ipam.type HostLocal), with which the operator rejects VXLAN "
            "pools; use backend=bgp, or Calico IPAM" % OPERATOR["installation"]
        )


def desired_installation(live, request, pod_cidr):
    """The Installation with the request's backend, MTU, node address and image registry; created as upstream's
    custom-resources.yaml would be (one IPv4 pool), or the live one with only those fields changed."""
    encapsulation = OPERATOR_ENCAPSULATION[(request.backend, request.encapsulation)]
    networks = by_family(pod_cidr)
    calico = CNIS["calico"]
    if live is None:
        pool = installation_pool(calico["ippool"], str(networks[4]), calico["ippool_block_size"], encapsulation)
        installation = {
            "apiVersion": OPERATOR["api_version"],
            "kind": "Installation",
            "metadata": {"name": OPERATOR["installation"]},
            "spec": {"calicoNetwork": {"ipPools": [pool]}},
        }
    else:
        installation = copy.deepcopy(live)
        index = installation_pool_index(installation, CNIS["calico"]["ippool"])
        if index is None:
            raise LiveStateError(
                "Installation %s has no IPv4 pool in calicoNetwork.ipPools (the IP pools are left to the user), so "
                "the operator has no encapsulation to change; set it on the IPPool itself, or add the pool to the "
                "Installation" % OPERATOR["installation"]
            )
        installation["spec"]["calicoNetwork"]["ipPools"][index]["encapsulation"] = encapsulation
    spec = installation["spec"]
    calico_network = spec["calicoNetwork"]
    if 6 in networks:
        # The backend's mode on the IPv6 pool as well; the request was refused where that is IPIP.
        pools = calico_network["ipPools"]
        index6 = installation_pool_index(installation, calico["ippool_ipv6"], family=6)
        if index6 is None:
            pools.append(
                installation_pool(
                    calico["ippool_ipv6"], str(networks[6]), calico["ippool_ipv6_block_size"], encapsulation
                )
            )
        else:
            pools[index6]["encapsulation"] = encapsulation
        if not request.node_address and not calico_network.get("nodeAddressAutodetectionV6"):
            calico_network["nodeAddressAutodetectionV6"] = {"firstFound": True}
    calico_network["bgp"] = operator_bgp(request.backend)
    if request.mtu is not None:
        calico_network["mtu"] = request.mtu
    if request.node_address:
        calico_network["nodeAddressAutodetectionV4"] = address_autodetection(request.node_address)
        if 6 in networks:
            calico_network["nodeAddressAutodetectionV6"] = address_autodetection(
                ipv6_node_address(request.node_address)
            )
    if request.image_registry:
        # The operator builds <registry><imagePath>/<image> and wants the registry to end with a slash.
        spec["registry"] = request.image_registry.rstrip("/") + "/"
    return installation


def installation_state(installation):
    """(done, failure) of the operator's work on the Installation's current generation: done once its Ready
    condition is True for it; failure: the Degraded condition's message for it."""
    generation = (installation.get("metadata") or {}).get("generation", 0)
    conditions = dict(
        (c.get("type"), c)
        for c in ((installation.get("status") or {}).get("conditions") or [])
        if c.get("observedGeneration", 0) >= generation
    )
    degraded = conditions.get("Degraded") or {}
    if degraded.get("status") == "True":
        return False, degraded.get("message") or degraded.get("reason") or "Degraded"
    return (conditions.get("Ready") or {}).get("status") == "True", None
