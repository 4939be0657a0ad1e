"""The live cluster read once, and cni_info's report through the same drivers that cni_config writes with."""

from __future__ import annotations

import json

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.info import inspect
from ansible_collections.kubeforge.cluster.plugins.module_utils.live import LiveCluster, node_summary
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import Request
from ansible_collections.kubeforge.cluster.plugins.module_utils.runner import CONFIG_HASH

from .fake_client import FakeClient


def daemonset(namespace, name, image, annotations=None):
    return {
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {
                    "containers": [
                        {"name": "kube-flannel" if namespace == "kube-flannel" else "calico-node", "image": image}
                    ]
                },
            }
        },
    }


def node(name, pod_cidr):
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/arch": "amd64"}},
        "spec": {"podCIDR": pod_cidr},
    }


def flannel_configmap(backend):
    conf = {"Network": "10.244.0.0/16", "Backend": {"Type": backend}}
    return {
        "kind": "ConfigMap",
        "metadata": {"name": "kube-flannel-cfg", "namespace": "kube-flannel"},
        "data": {"net-conf.json": json.dumps(conf)},
    }


def test_node_summary_reads_ready_kubelet_address_pod_cidr_and_arch():
    summary = node_summary(
        {
            "metadata": {"name": "kf-node-2", "labels": {"kubernetes.io/arch": "arm64"}},
            "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [
                    {"type": "Hostname", "address": "kf-node-2"},
                    {"type": "InternalIP", "address": "198.18.0.12"},
                ],
                "nodeInfo": {"kubeletVersion": "v1.36.3"},
            },
        }
    )
    assert summary == {
        "name": "kf-node-2",
        "ready": True,
        "kubelet_version": "v1.36.3",
        "internal_ip": "198.18.0.12",
        "pod_cidr": "10.244.1.0/24",
        "pod_cidrs": ["10.244.1.0/24", "fd00:10:244:1::/64"],
        "arch": "arm64",
        "flannel_public_ipv6": None,
    }
    assert node_summary({"metadata": {"name": "new"}})["ready"] is False


def test_one_list_finds_the_installed_cni_and_another_one_is_refused():
    client = FakeClient([daemonset("kube-flannel", "kube-flannel-ds", "ghcr.io/flannel-io/flannel:v0.28.9")])
    live = LiveCluster(client)
    assert live.cni == "flannel" and client.requests["LIST"] == 2  # DaemonSets and Nodes
    with pytest.raises(
        InputError, match=r"flannel is installed \(DaemonSet kube-flannel/kube-flannel-ds\).*Use cni=flannel"
    ):
        LiveCluster(client, "calico")


def test_info_reads_a_single_pool_of_another_name_as_cni_config_adopts_it():
    pool = {
        "kind": "IPPool",
        "metadata": {"name": "site-pool"},
        "spec": {"cidr": "10.60.0.0/16", "ipipMode": "Never", "vxlanMode": "CrossSubnet"},
    }
    calico_config = {
        "kind": "ConfigMap",
        "metadata": {"name": "calico-config", "namespace": "kube-system"},
        "data": {"calico_backend": "vxlan"},
    }
    client = FakeClient([daemonset("kube-system", "calico-node", "quay.io/calico/node:v3.32.1"), calico_config, pool])
    info = inspect(client, {"backend": "vxlan", "pod_cidr": "10.60.0.0/16"})
    assert (info["cni"], info["version"], info["backend"], info["encapsulation"], info["pod_cidr"]) == (
        "calico",
        "v3.32.1",
        "vxlan",
        "CrossSubnet",
        "10.60.0.0/16",
    )
    assert info["drift"] == []


def test_pods_run_current_config_compares_the_hash_cni_config_writes():
    live = LiveCluster(FakeClient([daemonset("kube-flannel", "kube-flannel-ds", "x:v1"), flannel_configmap("vxlan")]))
    request = Request(backend="host-gw", flannel_keys={})
    written = live.driver.desired_configmap(live.configmap, request, "10.244.0.0/16", print)
    annotation = {CONFIG_HASH: live.driver.config_hash(written)}
    client = FakeClient(
        [daemonset("kube-flannel", "kube-flannel-ds", "x:v1", annotation), written, node("a", "10.244.0.0/24")]
    )
    assert inspect(client)["pods_run_current_config"] is True
    client.put(flannel_configmap("wireguard"))
    info = inspect(client, {"backend": "host-gw", "cni": "flannel"})
    assert info["pods_run_current_config"] is False
    assert info["drift"] == [{"field": "backend", "wanted": "host-gw", "live": "wireguard"}]
    assert info["nodes"] == [
        {"name": "a", "ready": False, "kubelet_version": None, "internal_ip": None, "pod_cidr": "10.244.0.0/24"}
    ]


def test_nothing_installed_reports_nothing_and_no_drift_for_unset_wishes():
    info = inspect(FakeClient([node("a", None)]), {"cni": None, "backend": None})
    assert (info["cni"], info["backend"], info["drift"]) == (None, None, [])
    assert info["node_pod_cidrs"] == {"a": None}


def operator_installation(encapsulation="VXLANCrossSubnet"):
    pool = {"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "encapsulation": encapsulation}
    return {
        "kind": "Installation",
        "metadata": {"name": "default"},
        "spec": {"calicoNetwork": {"ipPools": [pool]}},
        "status": {"calicoVersion": "v3.32.1"},
    }


def test_an_operator_install_is_found_by_its_installation_before_its_daemonset_exists():
    client = FakeClient([operator_installation(), node("kf-node-1", "192.168.0.0/24")])
    live = LiveCluster(client, "calico")
    assert (live.cni, live.installer, live.daemonset) == ("calico", "operator", None)
    info = inspect(FakeClient([operator_installation("IPIP")]))
    found = {key: info[key] for key in ("cni", "managed_by", "version", "backend", "encapsulation", "pod_cidr")}
    assert found == {
        "cni": "calico",
        "managed_by": "tigera-operator",
        "version": "v3.32.1",
        "backend": "ipip",
        "encapsulation": "Always",
        "pod_cidr": "192.168.0.0/16",
    }
    with pytest.raises(
        InputError,
        match=r"calico is installed by the Tigera operator \(Installation default\); .* "
        r"does not install canal beside it",
    ):
        LiveCluster(FakeClient([operator_installation()]), "canal")


def test_a_kind_the_server_does_not_serve_costs_no_request():
    client = FakeClient([node("kf-node-1", "10.244.0.0/24")])
    LiveCluster(client, "flannel")
    # The DaemonSet LIST, the Node LIST, kubeadm-config and the CNI's ConfigMap; no Installation GET.
    assert client.requests == {"GET": 2, "LIST": 2, "WATCH": 0, "write": 0, "dry-run": 0}


def test_the_operator_without_an_installation_yet_is_an_operator_install():
    deployment = {"kind": "Deployment", "metadata": {"name": "tigera-operator", "namespace": "tigera-operator"}}
    installation_crd_served = operator_installation()
    installation_crd_served["metadata"]["name"] = "not-default"
    live = LiveCluster(FakeClient([deployment, installation_crd_served]), "calico")
    assert (live.installer, live.installation, live.operator_evidence()) == (
        "operator",
        None,
        "Deployment tigera-operator/tigera-operator",
    )
