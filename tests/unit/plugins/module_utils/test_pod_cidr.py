"""The pod CIDR decision: one network from the request, the live CNI, kubeadm or the default; never two."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.pod_cidr import decide_pod_cidr, kubeadm_pod_subnet


@pytest.mark.parametrize(
    ("requested", "cni", "kubeadm", "live", "expected"),
    [
        (None, "flannel", None, None, "10.244.0.0/16"),
        (None, "canal", None, None, "10.244.0.0/16"),
        (None, "calico", None, None, "192.168.0.0/16"),
        (None, "calico", "10.244.0.0/16", None, "10.244.0.0/16"),  # as calico-node reads kubeadm-config
        (None, "flannel", "10.244.0.0/16", "10.244.0.0/16", "10.244.0.0/16"),
        ("10.50.0.0/16", "flannel", "10.50.0.0/16", None, "10.50.0.0/16"),
    ],
)
def test_pod_cidr_comes_from_the_cluster_then_the_default(requested, cni, kubeadm, live, expected):
    assert decide_pod_cidr(requested, cni, kubeadm, live, {"n1": None}) == expected


@pytest.mark.parametrize(
    ("requested", "kubeadm", "live", "message"),
    [
        ("10.50.0.0/16", "10.244.0.0/16", None, "disagrees with kubeadm-config ClusterConfiguration"),
        ("10.244.0.0/16", None, "10.245.0.0/16", "disagrees with the live flannel configuration"),
        (None, "10.244.0.0/16", "10.245.0.0/16", "is a migration"),
    ],
)
def test_pod_cidr_mismatch_is_refused(requested, kubeadm, live, message):
    with pytest.raises(InputError, match=message):
        decide_pod_cidr(requested, "flannel", kubeadm, live, {})


def test_node_pod_cidrs_outside_the_pod_cidr_are_refused():
    with pytest.raises(LiveStateError, match=r"node podCIDRs lie outside .* n1 \(10.99.0.0/24\)"):
        decide_pod_cidr("10.244.0.0/16", "flannel", None, None, {"n1": "10.99.0.0/24", "n2": "10.244.1.0/24"})


def test_kubeadm_pod_subnet_reads_the_ipv4_part():
    configmap = {"data": {"ClusterConfiguration": "networking:\n  podSubnet: fd00::/56,10.244.0.0/16\n"}}
    assert kubeadm_pod_subnet(configmap) == "10.244.0.0/16"
    assert kubeadm_pod_subnet({"data": {"ClusterConfiguration": "networking: {}\n"}}) is None
    assert kubeadm_pod_subnet(None) is None
