"""playbooks/switch_backend.yml on the real nodes: vxlan -> host-gw -> udp -> vxlan. Each switch replaces every flannel
pod, the cni_backend role removes what the old backend left on every node, and pods keep reaching each other
across nodes; a second run of each switch changes nothing. Run by the molecule scenario `nodes` (side_effect)."""

from __future__ import annotations

import pytest

from tests.helpers.nodes import CONTROL_PLANE, kubectl_json, node_host, playbook
from tests.nodes.probes import cross_node_pings, delete_probes, flannel_routes, link, node_addresses

NODES = ["kf-node-1", "kf-node-2", "kf-node-3"]


@pytest.fixture(scope="module")
def control_plane():
    host = node_host(CONTROL_PLANE)
    yield host
    delete_probes(host)


def flannel_pods(control_plane) -> dict[str, str]:
    pods = kubectl_json(control_plane, "-n", "kube-flannel", "get", "pods", "-l", "app=flannel")["items"]
    return {pod["spec"]["nodeName"]: pod["metadata"]["uid"] for pod in pods}


def switch(backend: str):
    run = playbook("playbooks/switch_backend.yml", "-e", f"cni_backend={backend}")
    assert run.rc == 0, run.tail()
    again = playbook("playbooks/switch_backend.yml", "-e", f"cni_backend={backend}")
    assert again.rc == 0 and again.changed == 0, again.tail()
    return run


def test_vxlan_to_host_gw_removes_flannel_1_and_routes_via_the_nodes(control_plane):
    before = flannel_pods(control_plane)
    run = switch("host-gw")
    assert "flannel.1" in run.output, "the role reports the devices it removed"
    after = flannel_pods(control_plane)
    assert sorted(after) == NODES and not set(before.values()) & set(after.values()), "every flannel pod replaced"
    addresses = node_addresses(control_plane)
    for name in NODES:
        host = node_host(name)
        assert link(host, "flannel.1") is None, f"stale flannel.1 left on {name}"
        others = {cidr: ip for node, (cidr, ip) in addresses.items() if node != name}
        routes = flannel_routes(host, list(others))
        assert {dst: route.get("gateway") for dst, route in routes.items()} == others, routes
    results = cross_node_pings(control_plane, NODES, device=None)
    assert results["failures"] == [], results


def test_host_gw_to_udp_creates_flannel0_and_carries_traffic(control_plane):
    # flanneld here is built with cgo, so it carries the udp backend (a TUN device, a privileged pod).
    before = flannel_pods(control_plane)
    switch("udp")
    after = flannel_pods(control_plane)
    assert not set(before.values()) & set(after.values()), "every flannel pod replaced"
    for name in NODES:
        device = link(node_host(name), "flannel0")
        assert device is not None and device["linkinfo"]["info_kind"] == "tun", name
    results = cross_node_pings(control_plane, NODES, device="flannel0")
    assert results["failures"] == [], results
    assert all(delta > 0 for delta in results["tx_delta"].values()), results["tx_delta"]


def test_udp_back_to_vxlan_removes_flannel0_restores_flannel_1_and_traffic(control_plane):
    before = flannel_pods(control_plane)
    run = switch("vxlan")
    assert "flannel0" in run.output, "the role reports the devices it removed"
    after = flannel_pods(control_plane)
    assert not set(before.values()) & set(after.values()), "every flannel pod replaced"
    addresses = node_addresses(control_plane)
    for name in NODES:
        host = node_host(name)
        assert link(host, "flannel0") is None, f"stale flannel0 left on {name}"
        device = link(host, "flannel.1")
        assert device is not None and device["linkinfo"]["info_kind"] == "vxlan", name
        others = [cidr for node, (cidr, _) in addresses.items() if node != name]
        routes = flannel_routes(host, others)
        assert {route.get("dev") for route in routes.values()} == {"flannel.1"} and len(routes) == 2, routes
    results = cross_node_pings(control_plane, NODES, device="flannel.1")
    assert results["failures"] == [], results
    assert all(delta > 0 for delta in results["tx_delta"].values()), results["tx_delta"]
