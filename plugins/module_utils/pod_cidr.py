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
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import ipv4_network


def kubeadm_pod_subnet(configmap):
    """networking.podSubnet of the kubeadm-config ConfigMap (its IPv4 part), or None."""
    if not configmap or yaml is None:
        return None
    try:
        cluster_config = load_yaml((configmap.get("data") or {}).get("ClusterConfiguration") or "") or {}
    except yaml.YAMLError:
        return None
    subnet = (cluster_config.get("networking") or {}).get("podSubnet")
    for part in (subnet or "").split(","):
        if part.strip() and ":" not in part:
            return part.strip()
    return None


def decide_pod_cidr(requested, cni, kubeadm_subnet, live_cni_cidr, node_cidrs):
    """The pod CIDR; a mismatch between any two sources is refused: changing the pod CIDR is a
    migration, not a configuration change."""
    facts = []
    if live_cni_cidr:
        facts.append(("the live %s configuration" % cni, live_cni_cidr))
    if kubeadm_subnet:
        facts.append(("kubeadm-config ClusterConfiguration networking.podSubnet", kubeadm_subnet))
    cidr = requested or (facts[0][1] if facts else cni_spec(cni)["default_pod_cidr"])
    wanted = ipv4_network(cidr, "pod_cidr")
    for where, value in facts:
        if ipv4_network(value, where) != wanted:
            raise InputError(
                "pod_cidr %s disagrees with %s (%s). Changing a live cluster's pod CIDR is a migration "
                "(new IP pool, every pod re-addressed), which cni_config does not do; pass pod_cidr=%s or omit it"
                % (wanted, where, value, value)
            )
    outside = sorted(
        "%s (%s)" % (node, node_cidr)
        for node, node_cidr in node_cidrs.items()
        if node_cidr and not ipaddress.ip_network(node_cidr).subnet_of(wanted)
    )
    if outside:
        raise LiveStateError(
            "node podCIDRs lie outside pod_cidr %s: %s; kube-controller-manager's --cluster-cidr (kubeadm "
            "networking.podSubnet) must be the same network" % (wanted, ", ".join(outside))
        )
    return str(wanted)
