"""Calico's WireGuard encryption on the real control plane: on and off through FelixConfiguration default, in check
mode, read back by cni_info, without restarting calico-node, idempotent; refused for Flannel networking."""

from __future__ import annotations

from tests.helpers.ansible import describe_writes
from tests.helpers.cni_cluster import CALICO

NAMESPACE, _, _, SELECTOR = CALICO


def felix(kubectl):
    return kubectl.json("get", "felixconfigurations.crd.projectcalico.org", "default")["spec"]


def test_wireguard_on_and_off_through_felix_without_restarts(cluster, audit, kubectl):
    # On at install: calico-node has not made FelixConfiguration default yet (kwok runs no calico-node), so the
    # module creates it with only that field.
    installed = cluster.module(cni="calico", backend="vxlan", backend_options={"wireguard": True})
    assert not installed["failed"], installed["msg"]
    assert installed["wireguard"] is True and installed["mtu_overhead"] == 50 + 60
    assert felix(kubectl)["wireguardEnabled"] is True
    info = cluster.module("cni_info", cni="calico")
    assert info["wireguard"] is True
    pods = cluster.pod_uids(NAMESPACE, SELECTOR)

    since = audit.offset()
    again = cluster.module(cni="calico", backend="vxlan", wireguard=True)
    assert not again["failed"], again["msg"]
    assert not again["changed"]
    assert describe_writes(audit.writes_since(since)) == []

    planned = cluster.module(cni="calico", backend="vxlan", wireguard=False, check=True, diff=True)
    assert not planned["failed"], planned["msg"]
    assert planned["changed"] and planned["updated"] == ["FelixConfiguration default"]
    shown = planned["stdout_of_run"].splitlines()
    assert "-  wireguardEnabled: true" in shown and "+  wireguardEnabled: false" in shown
    assert describe_writes(audit.writes_since(since)) == []
    assert felix(kubectl)["wireguardEnabled"] is True

    # Off, with an MTU: Felix reads it live, so no calico-node pod is replaced.
    off = cluster.module(cni="calico", backend="vxlan", wireguard=False)
    assert not off["failed"], off["msg"]
    assert off["changed"] and off["updated"] == ["FelixConfiguration default"] and off["restarted"] == []
    assert off["wireguard"] is False and off["mtu_overhead"] == 50
    assert felix(kubectl)["wireguardEnabled"] is False
    assert cluster.pod_uids(NAMESPACE, SELECTOR) == pods

    # Omitted, it stays as it is.
    kept = cluster.module(cni="calico", backend="vxlan")
    assert not kept["failed"] and not kept["changed"], kept.get("msg")
    assert felix(kubectl)["wireguardEnabled"] is False


def test_wireguard_with_an_mtu_warns_what_the_pods_need_and_flannel_refuses_it(cluster, audit):
    result = cluster.module(cni="calico", backend="ipip", mtu=1400, wireguard=True)
    assert not result["failed"], result["msg"]
    warnings = " ".join((result["stderr_of_run"] + " ".join(result.get("warnings", []))).split())
    assert "mtu=1400 is used as veth_mtu as given: with WireGuard on, pods need the nodes' MTU minus 80" in warnings
    since = audit.offset()
    refused = cluster.module(cni="flannel", wireguard=True)
    assert refused["failed"]
    assert refused["msg"] == (
        "wireguard (Calico's encryption) applies to cni=calico; flannel encrypts with its own backend: "
        "backend=wireguard"
    )
    assert describe_writes(audit.writes_since(since)) == []
