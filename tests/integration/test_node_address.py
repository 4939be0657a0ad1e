"""node_address on the real control plane: rendered into the CNI's DaemonSet (flanneld's env, calico-node's
IP_AUTODETECTION_METHOD), shown in check mode, rolled out, idempotent, and left alone when omitted."""

from __future__ import annotations

from tests.helpers.ansible import describe_writes
from tests.helpers.cni_cluster import CALICO, FLANNEL_LIKE


def env_of(cluster, namespace, daemonset, container):
    spec = cluster.daemonset(namespace, daemonset)["spec"]["template"]["spec"]
    found = next(c for c in spec["containers"] if c["name"] == container)
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in found.get("env", [])}


def test_flannel_node_address_rolls_out_once_and_stays(flannel_cluster, audit):
    cluster = flannel_cluster
    namespace, _, daemonset, selector = FLANNEL_LIKE["flannel"]
    before = cluster.pod_uids(namespace, selector)
    since = audit.offset()
    planned = cluster.module(cni="flannel", node_address="can-reach=192.0.2.1", check=True, diff=True)
    assert not planned["failed"], planned["msg"]
    assert planned["changed"] and planned["updated"] == [f"DaemonSet {namespace}/{daemonset}"]
    assert any("FLANNELD_IFACE_CAN_REACH" in line for line in planned["stdout_of_run"].splitlines() if line[:1] == "+")
    assert describe_writes(audit.writes_since(since)) == []

    chosen = cluster.module(cni="flannel", node_address="can-reach=192.0.2.1")
    assert not chosen["failed"], chosen["msg"]
    assert chosen["changed"] and len(chosen["restarted"]) == 3
    assert env_of(cluster, namespace, daemonset, "kube-flannel")["FLANNELD_IFACE_CAN_REACH"] == "192.0.2.1"
    assert cluster.pod_uids(namespace, selector).isdisjoint(before)

    since = audit.offset()
    for args in ({"node_address": "can-reach=192.0.2.1"}, {}):  # the same again, and omitted: nothing to do
        again = cluster.module(cni="flannel", **args)
        assert not again["failed"] and not again["changed"], again.get("msg")
    assert describe_writes(audit.writes_since(since)) == []

    back = cluster.module(cni="flannel", node_address="first-found")
    assert not back["failed"], back["msg"]
    env = env_of(cluster, namespace, daemonset, "kube-flannel")
    assert [name for name in env if name.startswith("FLANNELD_IFACE")] == []
    since = audit.offset()
    settled = cluster.module(cni="flannel", node_address="first-found")
    assert not settled["failed"] and not settled["changed"], settled.get("msg")
    assert describe_writes(audit.writes_since(since)) == []


def test_calico_node_address_sets_ip_autodetection_method(cluster, audit):
    namespace, _, daemonset, _ = CALICO
    installed = cluster.module(cni="calico", node_address="interface=eth1")
    assert not installed["failed"], installed["msg"]
    assert env_of(cluster, namespace, daemonset, "calico-node")["IP_AUTODETECTION_METHOD"] == "interface=^eth1$"
    switched = cluster.module(cni="calico", node_address="cidr=192.0.2.0/24")
    assert not switched["failed"], switched["msg"]
    assert switched["changed"] and switched["updated"] == [f"DaemonSet {namespace}/{daemonset}"]
    assert env_of(cluster, namespace, daemonset, "calico-node")["IP_AUTODETECTION_METHOD"] == "cidr=192.0.2.0/24"
    since = audit.offset()
    again = cluster.module(cni="calico", node_address="cidr=192.0.2.0/24")
    assert not again["failed"] and not again["changed"], again.get("msg")
    assert describe_writes(audit.writes_since(since)) == []
