"""The pod CIDR decision: the networks from the request, the live CNI, kubeadm or the default; never two of them."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.pod_cidr import decide_pod_cidr, kubeadm_pod_subnet

DUAL = "10.244.0.0/16,fd00:10:244::/56"


@pytest.mark.parametrize(
    ("requested", "cni", "kubeadm", "live", "expected"),
    [
        (None, "flannel", None, None, "10.244.0.0/16"),
        (None, "canal", None, None, "10.244.0.0/16"),
        (None, "calico", None, None, "192.168.0.0/16"),
        (None, "calico", "10.244.0.0/16", None, "10.244.0.0/16"),  # as calico-node reads kubeadm-config
        (None, "flannel", "10.244.0.0/16", "10.244.0.0/16", "10.244.0.0/16"),
        ("10.50.0.0/16", "flannel", "10.50.0.0/16", None, "10.50.0.0/16"),
        # Dual stack: kubeadm's spelling, IPv4 first, whichever spelling came in.
        (["10.244.0.0/16", "fd00:10:244::/56"], "flannel", None, None, "10.244.0.0/16,fd00:10:244::/56"),
        (None, "flannel", "10.244.0.0/16, fd00:10:244::/56", None, "10.244.0.0/16,fd00:10:244::/56"),
        (None, "calico", None, "10.244.0.0/16,fd00:10:244::/56", "10.244.0.0/16,fd00:10:244::/56"),
    ],
)
def test_pod_cidr_comes_from_the_cluster_then_the_default(requested, cni, kubeadm, live, expected):
    assert decide_pod_cidr(requested, cni, kubeadm, live, {"n1": []}) == expected


@pytest.mark.parametrize(
    ("requested", "kubeadm", "live", "message"),
    [
        ("10.50.0.0/16", "10.244.0.0/16", None, "disagrees with kubeadm-config ClusterConfiguration"),
        ("10.244.0.0/16", None, "10.245.0.0/16", "disagrees with the live flannel configuration"),
        (
            DUAL,
            "10.244.0.0/16",
            None,
            "is dual-stack .*, but kubeadm-config .* is single-stack .*between single and dual",
        ),
        ("10.244.0.0/16", None, DUAL, "is single-stack .*, but the live flannel configuration .* is dual-stack"),
        ("10.244.0.0/16,fd00:10:245::/56", DUAL, None, "disagrees with kubeadm-config"),
    ],
)
def test_pod_cidr_mismatch_is_refused(requested, kubeadm, live, message):
    with pytest.raises(InputError, match=message):
        decide_pod_cidr(requested, "flannel", kubeadm, live, {})


def test_node_pod_cidrs_outside_the_pod_cidr_are_refused():
    with pytest.raises(LiveStateError, match=r"node podCIDRs lie outside .* n1 \(10.99.0.0/24\)"):
        decide_pod_cidr("10.244.0.0/16", "flannel", None, None, {"n1": ["10.99.0.0/24"], "n2": ["10.244.1.0/24"]})


def test_node_pod_cidrs_of_each_family_lie_in_that_familys_network():
    nodes = {"n1": ["10.244.1.0/24", "fd00:10:244:1::/64"], "n2": ["10.244.2.0/24", "fd00:99::/64"]}
    with pytest.raises(LiveStateError, match=r"outside .* n2 \(fd00:99::/64\)$|outside .* n2 \(fd00:99::/64\);"):
        decide_pod_cidr(DUAL, "flannel", None, None, nodes)
    nodes["n2"][1] = "fd00:10:244:2::/64"
    assert decide_pod_cidr(DUAL, "flannel", None, None, nodes) == DUAL
    with pytest.raises(LiveStateError, match=r"n1 \(fd00:10:244:1::/64\), n2"):
        decide_pod_cidr("10.244.0.0/16", "flannel", None, None, nodes)


def test_kubeadm_pod_subnet_reads_both_families():
    configmap = {"data": {"ClusterConfiguration": "networking:\n  podSubnet: 10.244.0.0/16, fd00::/56\n"}}
    assert kubeadm_pod_subnet(configmap) == "10.244.0.0/16,fd00::/56"
    assert kubeadm_pod_subnet({"data": {"ClusterConfiguration": "networking: {}\n"}}) is None
    assert kubeadm_pod_subnet(None) is None


def test_a_backend_that_cannot_carry_the_clusters_ipv6_network_is_refused():
    with pytest.raises(InputError, match="backend=udp of flannel cannot carry IPv6 pods"):
        decide_pod_cidr(None, "flannel", DUAL, None, {}, "udp")
    assert decide_pod_cidr(None, "flannel", "10.244.0.0/16", None, {}, "udp") == "10.244.0.0/16"


def test_two_live_sources_that_disagree_are_named_with_no_pod_cidr_to_pass():
    with pytest.raises(
        LiveStateError, match=r"the live flannel configuration \(10.245.0.0/16\) and kubeadm-config .* disagree"
    ):
        decide_pod_cidr(None, "flannel", "10.244.0.0/16", "10.245.0.0/16", {})
    with pytest.raises(LiveStateError, match="disagree"):
        decide_pod_cidr(None, "flannel", DUAL, "10.244.0.0/16", {})


def test_live_networks_are_taken_as_they_are():
    # A pool smaller than a /24 and an IPv6-first podSubnet cannot be mended by a re-run: they are the cluster's.
    assert decide_pod_cidr(None, "calico", None, "10.0.0.0/26", {}) == "10.0.0.0/26"
    assert decide_pod_cidr(None, "flannel", "fd00:10:244::/56,10.244.0.0/16", None, {}) == DUAL
    assert decide_pod_cidr(DUAL, "flannel", "fd00:10:244::/56,10.244.0.0/16", DUAL, {}) == DUAL
