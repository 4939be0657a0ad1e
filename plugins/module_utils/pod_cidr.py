# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one pod CIDR: from the request, the live CNI, kubeadm, or the CNI's default, and never two of them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

try:
    import yaml
except ImportError:  # pragma: no cover - the kubernetes client, which the modules require, depends on PyYAML
    yaml = None

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import cni_spec
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import load_yaml
from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import (
    check_dual_stack,
    cidr_items,
    live_networks,
    networks_text,
    parse_networks,
)


def kubeadm_pod_subnet(configmap):
    """networking.podSubnet of the kubeadm-config ConfigMap as kubeadm's comma string (both families), or None."""
    if not configmap or yaml is None:
        return None
    try:
        cluster_config = load_yaml((configmap.get("data") or {}).get("ClusterConfiguration") or "") or {}
    except yaml.YAMLError:
        return None
    subnet = (cluster_config.get("networking") or {}).get("podSubnet")
    return ",".join(cidr_items(subnet)) or None


def stack(networks):
    return "dual-stack (IPv4 and IPv6)" if len(networks) > 1 else "single-stack (IPv4)"


def decide_pod_cidr(requested, cni, kubeadm_subnet, live_cni_cidr, node_cidrs, backend=None):
    """The pod CIDR (kubeadm's comma string); a mismatch between any two sources is refused: changing the pod CIDR,
    or between single and dual stack, is a migration, not a configuration change. node_cidrs: {node: [its
    spec.podCIDRs]}. backend: refused when it cannot carry the IPv6 network the cluster has."""
    facts = []
    if live_cni_cidr:
        facts.append(("the live %s configuration" % cni, live_cni_cidr))
    if kubeadm_subnet:
        facts.append(("kubeadm-config ClusterConfiguration networking.podSubnet", kubeadm_subnet))
    if requested:
        wanted, source = parse_networks(requested, "pod_cidr"), None
    elif facts:
        wanted, source = live_networks(facts[0][1], facts[0][0]), facts[0]
    else:
        wanted, source = parse_networks(cni_spec(cni)["default_pod_cidr"], "pod_cidr"), None
    for where, value in facts:
        found = live_networks(value, where)
        if found == wanted:
            continue
        if source is not None:
            # Nothing was asked for: two of the cluster's own sources disagree, which no pod_cidr can mend.
            raise LiveStateError(
                "%s (%s) and %s (%s) disagree, so the cluster's pod CIDR is not one network: make them the same by "
                "hand (changing a pod CIDR is a migration, which cni_config does not do)"
                % (source[0], source[1], where, value)
            )
        if len(found) != len(wanted):
            raise InputError(
                "pod_cidr %s is %s, but %s (%s) is %s. Changing a live cluster between single and dual stack is a "
                "migration (kubeadm's podSubnet and serviceSubnet, every node's podCIDRs, the CNI's pools), which "
                "cni_config does not do; pass pod_cidr=%s or omit it"
                % (networks_text(wanted), stack(wanted), where, value, stack(found), networks_text(found))
            )
        raise InputError(
            "pod_cidr %s disagrees with %s (%s). Changing a live cluster's pod CIDR is a migration "
            "(new IP pool, every pod re-addressed), which cni_config does not do; pass pod_cidr=%s or omit it"
            % (networks_text(wanted), where, value, networks_text(found))
        )
    families = dict((network.version, network) for network in wanted)
    outside = sorted(
        "%s (%s)" % (node, node_cidr)
        for node, cidrs in node_cidrs.items()
        for node_cidr in cidrs or ()
        if not _inside(node_cidr, families)
    )
    if outside:
        raise LiveStateError(
            "node podCIDRs lie outside pod_cidr %s: %s; kube-controller-manager's --cluster-cidr (kubeadm "
            "networking.podSubnet) must be the same networks" % (networks_text(wanted), ", ".join(outside))
        )
    if backend and len(wanted) > 1:
        check_dual_stack(cni, backend)
    return networks_text(wanted)


def _inside(cidr, families):
    network = ipaddress.ip_network(cidr)
    return network.version in families and network.subnet_of(families[network.version])
