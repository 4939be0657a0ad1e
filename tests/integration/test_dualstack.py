"""Dual-stack pod networks on the real control plane: the local cluster started with an IPv4 and an IPv6 pod network
(kube-controller-manager gives every node a podCIDR of each family), then each CNI's objects as cni_config writes
them, the switches, and the refusals - with nothing written. The packets are tests/nodes' (real nodes)."""

from __future__ import annotations

import json

import pytest
from localcluster import ClusterSpec

from tests.helpers.ansible import describe_writes
from tests.helpers.cluster_state import leave, reuse
from tests.helpers.cni_cluster import Cluster
from tests.integration.test_cni_config import assert_second_run_writes_nothing
from tests.integration.test_operator import OperatorStatus, installation, writes

IPV4, IPV6 = "10.244.0.0/16", "fd00:10:244::/56"
DUAL = f"{IPV4},{IPV6}"


@pytest.fixture
def dual_cluster(local_cluster, kubectl, upstream):
    """The local cluster, fresh, on the dual-stack pod network."""
    if not reuse(local_cluster, "fresh", pod_cidr=DUAL):
        local_cluster.reset(ClusterSpec(pod_cidr=DUAL, nodes=local_cluster.session_spec.nodes))
    cluster = Cluster(kubectl, local_cluster, upstream)
    cluster.local = local_cluster
    return cluster


@pytest.fixture
def operator_status(kubectl):
    with OperatorStatus(kubectl) as reporter:
        yield reporter


def refused_without_writes(cluster, audit, message, **args):
    since = audit.offset()
    result = cluster.module(**args)
    assert result.get("failed") and message in result["msg"], result.get("msg")
    assert describe_writes(audit.writes_since(since)) == []
    return result


def test_the_local_cluster_gives_every_node_a_pod_subnet_of_each_family(dual_cluster, kubectl):
    for node in kubectl.json("get", "nodes")["items"]:
        v4, v6 = node["spec"]["podCIDRs"]
        assert v4.startswith("10.244.") and v4.endswith("/24") and v6.startswith("fd00:10:244:") and v6.endswith("/64")
    leave(dual_cluster.local, "fresh")


def test_flannel_dual_stack_vxlan_then_host_gw_and_what_it_refuses(dual_cluster, audit):
    cluster = dual_cluster
    refused_without_writes(
        cluster, audit, "backend=udp of flannel cannot carry IPv6 pods", cni="flannel", backend="udp", pod_cidr=DUAL
    )
    # Taken from kubeadm's podSubnet when not given, as a single-stack pod CIDR is. node_mtu as the roles pass it.
    installed = cluster.module(cni="flannel", backend="vxlan", node_mtu=1500)
    assert not installed.get("failed"), installed.get("msg")
    assert installed["changed"] and installed["pod_cidr"] == DUAL and installed["mtu_overhead"] == 70
    conf = cluster.net_conf("flannel")
    assert (conf["Network"], conf["IPv6Network"], conf["EnableIPv4"], conf["EnableIPv6"]) == (IPV4, IPV6, True, True)
    # Pods get 1480 - 50 = 1430, what flannel-v6.1 carries on a 1500-byte interface.
    assert conf["Backend"] == {"Type": "vxlan", "MTU": 1480}
    again = {"cni": "flannel", "backend": "vxlan", "pod_cidr": DUAL, "node_mtu": 1500}
    assert_second_run_writes_nothing(cluster, audit, again)

    switched = cluster.module(cni="flannel", backend="host-gw", pod_cidr=[IPV4, IPV6])
    assert not switched.get("failed"), switched.get("msg")
    assert switched["changed"] and cluster.net_conf("flannel")["Backend"] == {"Type": "host-gw"}
    assert cluster.net_conf("flannel")["IPv6Network"] == IPV6
    # vxlan's devices of both families are what the nodes must lose.
    assert {tuple(node["devices"]) for node in switched["stale_node_state"]} == {("flannel.1", "flannel-v6.1")}
    assert_second_run_writes_nothing(cluster, audit, {"cni": "flannel", "backend": "host-gw"})

    refused_without_writes(cluster, audit, "between single and dual stack is a migration", cni="flannel", pod_cidr=IPV4)
    refused_without_writes(
        cluster, audit, "disagrees with the live flannel configuration", cni="flannel", pod_cidr=f"{IPV4},fd00:99::/56"
    )
    refused_without_writes(cluster, audit, "cannot carry IPv6 pods", cni="flannel", backend="udp")

    info = cluster.module("cni_info", pod_cidr=f"{IPV4}, {IPV6}")
    assert (info["pod_cidr"], info["kubeadm_pod_subnet"], info["drift"]) == (DUAL, DUAL, [])
    assert all("," in cidrs for cidrs in info["node_pod_cidrs"].values()), info["node_pod_cidrs"]


def test_calico_dual_stack_pools_env_and_cni_configuration(dual_cluster, audit):
    cluster = dual_cluster
    refused_without_writes(cluster, audit, "IPIP is not supported on IPv6 pools", cni="calico", backend="ipip")
    installed = cluster.module(cni="calico", backend="bgp")
    assert not installed.get("failed"), installed.get("msg")
    assert installed["pod_cidr"] == DUAL
    pools = cluster.kubectl.json("get", "ippools.crd.projectcalico.org")["items"]
    assert {
        p["metadata"]["name"]: (
            p["spec"]["cidr"],
            p["spec"]["blockSize"],
            p["spec"]["ipipMode"],
            p["spec"]["vxlanMode"],
        )
        for p in pools
    } == {
        "default-ipv4-ippool": (IPV4, 26, "Never", "Never"),
        "default-ipv6-ippool": (IPV6, 122, "Never", "Never"),
    }
    env = {item["name"]: item.get("value") for item in cluster.calico_node()["env"]}
    assert (env["CALICO_IPV6POOL_CIDR"], env["IP6"], env["FELIX_IPV6SUPPORT"]) == (IPV6, "autodetect", "true")
    cni_config = cluster.configmap("kube-system", "calico-config")["cni_network_config"]
    ipam = json.loads(cni_config.replace("__CNI_MTU__", "0"))["plugins"][0]["ipam"]
    assert ipam == {"type": "calico-ipam", "assign_ipv4": "true", "assign_ipv6": "true"}
    assert_second_run_writes_nothing(cluster, audit, {"cni": "calico", "backend": "bgp"})

    switched = cluster.module(cni="calico", backend="vxlan", encapsulation="CrossSubnet")
    assert not switched.get("failed"), switched.get("msg")
    modes = {
        p["metadata"]["name"]: p["spec"]["vxlanMode"]
        for p in cluster.kubectl.json("get", "ippools.crd.projectcalico.org")["items"]
    }
    assert modes == {"default-ipv4-ippool": "CrossSubnet", "default-ipv6-ippool": "CrossSubnet"}
    env = {item["name"]: item.get("value") for item in cluster.calico_node()["env"]}
    assert env["CALICO_IPV6POOL_VXLAN"] == "CrossSubnet"
    assert_second_run_writes_nothing(
        cluster, audit, {"cni": "calico", "backend": "vxlan", "encapsulation": "CrossSubnet"}
    )
    refused_without_writes(cluster, audit, "IPIP is not supported on IPv6 pools", cni="calico", backend="ipip")


def test_the_operators_installation_gets_both_pools(dual_cluster, audit, kubectl, operator_status):
    cluster = dual_cluster
    args = {"cni": "calico", "installer": "operator", "backend": "vxlan"}
    installed = cluster.module(**args)
    assert not installed.get("failed"), installed.get("msg")
    network = installation(kubectl)["spec"]["calicoNetwork"]
    assert [(p["name"], p["cidr"], p["encapsulation"]) for p in network["ipPools"]] == [
        ("default-ipv4-ippool", IPV4, "VXLAN"),
        ("default-ipv6-ippool", IPV6, "VXLAN"),
    ]
    assert network["nodeAddressAutodetectionV6"] == {"firstFound": True}
    since = audit.offset()
    again = cluster.module(**args)
    assert not again.get("failed") and again["changed"] is False, again.get("msg")
    assert writes(audit, since) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"cni": "flannel", "pod_cidr": "10.244.0.0/16,10.245.0.0/16"}, "has two IPv4 networks"),
        ({"cni": "flannel", "pod_cidr": f"{IPV6},{IPV4}"}, f"give the IPv4 network first ({IPV4},{IPV6})"),
        ({"cni": "flannel", "pod_cidr": f"{IPV4},fd00:10:244::/80"}, "smaller than one node's pod subnet (/64"),
        ({"cni": "flannel", "pod_cidr": IPV6}, "IPv6-only clusters are not supported"),
        ({"cni": "canal", "pod_cidr": DUAL}, "canal.yaml's CNI configuration takes one host-local range"),
    ],
    ids=["two-ipv4", "family-order", "mask-too-small", "ipv6-only", "canal"],
)
def test_bad_dual_stack_input_is_refused_before_anything_is_written(dual_cluster, audit, args, message):
    refused_without_writes(dual_cluster, audit, message, **args)
    leave(dual_cluster.local, "fresh")
