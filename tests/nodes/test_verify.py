"""kubeforge.cluster.cni_verify on the real nodes, run as a user runs it (a one-task playbook on the first control
plane): a healthy vxlan cluster verifies, a data plane broken on purpose fails naming the right node pairs (vxlan's
UDP port dropped on one node; one node's flannel.1 MTU below the pods' MTU), host-gw verifies after a live switch,
check mode creates nothing, and the probe namespace is gone after every run.

Needs the nodes up with Flannel (vxlan) installed: `make nodes-up NODES=3`, then
`ansible-playbook -i inventories/nodes site.yml -e cni=flannel`. Leaves the cluster on vxlan."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers.nodes import ADMIN, CONTROL_PLANE, kubectl_json, node_host, playbook

NODES = ["kf-node-1", "kf-node-2", "kf-node-3"]
NAMESPACE = "kubeforge-verify"
PLAYBOOK = "tests/nodes/playbooks/cni_verify.yml"
LABELS = "app.kubernetes.io/managed-by=kubeforge,app.kubernetes.io/name=cni-verify"
ORDERED_PAIRS = [(s, t) for s in NODES for t in NODES if s != t]
TIMINGS: list[dict] = []


@pytest.fixture(scope="module")
def control_plane():
    host = node_host(CONTROL_PLANE)
    yield host
    if TIMINGS:
        print("\ncni_verify timings:\n" + "\n".join(json.dumps(t) for t in TIMINGS))


def verify(*args: str) -> tuple[int, dict, str]:
    """(rc, the registered result, the run's output)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        started = time.monotonic()
        run = playbook(PLAYBOOK, "-e", f"verify_result_file={out}", *args)
        wall = time.monotonic() - started
        assert out.exists(), run.tail()
        result = json.loads(out.read_text())
    failed = bool(result.get("failed"))
    if result.get("timings"):
        TIMINGS.append({"args": list(args), "wall_s": round(wall, 1), "msg": result.get("msg"), **result["timings"]})
    return (1 if failed else 0), result, run.output


def namespace_gone(control_plane) -> bool:
    # The module waits at most 10 s for its namespace to go; the next run would remove it anyway.
    control_plane.run(f"{ADMIN} wait --for=delete namespace/{NAMESPACE} --timeout=60s")
    left = control_plane.run(f"{ADMIN} get namespaces -l {LABELS} -o name")
    return left.rc == 0 and left.stdout.strip() == ""


def by_pair(result: dict, path: str) -> dict[tuple[str, str], dict]:
    return {(p["source"], p["target"]): p for p in result["pairs"] if p["path"] == path}


def failed_pairs(result: dict, path: str) -> set[tuple[str, str]]:
    return {pair for pair, entry in by_pair(result, path).items() if not (entry["icmp"]["ok"] and entry["tcp"]["ok"])}


def assert_all_pass(result: dict, mtu: int) -> None:
    assert result["verified"] is True, result.get("msg") or result.get("reason")
    assert result["failures"] == [] and result["changed"] is False
    assert result["sampled"] is False and (result["pairs_checked"], result["pairs_total"]) == (6, 6)
    assert result["pod_mtu"] == dict.fromkeys(NODES, mtu)
    for path in ("pod", "host"):
        pairs = by_pair(result, path)
        assert sorted(pairs) == ORDERED_PAIRS, path
        for pair, entry in pairs.items():
            assert entry["icmp"]["ok"] and entry["tcp"]["ok"], (path, pair, entry)
            assert entry["icmp"]["rtt_ms"] is not None and entry["icmp"]["rtt_ms"] > 0
            if path == "pod":
                assert entry["mtu"] == {"ok": True, "payload": mtu - 28}, (pair, entry)
    services = [p for p in result["pairs"] if p["path"] == "service"]
    assert result["service"] and sorted(p["source"] for p in services) == NODES
    assert all(p["tcp"]["ok"] and p["tcp"]["attempts"] == 3 for p in services), services


def test_check_mode_creates_nothing(control_plane):
    assert namespace_gone(control_plane)
    rc, result, _ = verify("--check")
    assert rc == 0 and result["verified"] is False
    assert result["reason"].startswith("check mode"), result["reason"]
    assert result["nodes"] == NODES
    assert control_plane.run(f"{ADMIN} get namespace {NAMESPACE}").rc != 0


def test_healthy_vxlan_cluster_verifies_and_leftovers_are_removed(control_plane):
    # A namespace an interrupted run would have left: cni_verify removes it first (and waits by watch).
    leftover = control_plane.run(
        f"{ADMIN} create namespace kubeforge-verify-old && "
        f"{ADMIN} label namespace kubeforge-verify-old {LABELS.replace(',', ' ')}"
    )
    assert leftover.rc == 0, leftover.stderr
    rc, result, output = verify()
    assert rc == 0, output[-3000:]
    assert_all_pass(result, mtu=1450)
    assert result["cleaned_up"] in (True, None)
    assert namespace_gone(control_plane)


def test_vxlan_port_dropped_on_one_node_fails_naming_its_pairs(control_plane):
    node3 = node_host("kf-node-3")
    block = (
        "nft add table inet kftest && "
        "nft add chain inet kftest in '{ type filter hook input priority -10; }' && "
        "nft add rule inet kftest in udp dport 8472 drop"
    )
    assert node3.run(block).rc == 0
    try:
        rc, result, _ = verify("-e", "verify_timeout=120")
    finally:
        assert node3.run("nft delete table inet kftest").rc == 0
    assert rc == 1 and result["verified"] is False
    broken = {pair for pair in ORDERED_PAIRS if "kf-node-3" in pair}
    assert failed_pairs(result, "pod") == broken, result["failures"]
    assert failed_pairs(result, "host") == broken, result["failures"]
    for source, target in sorted(broken):
        assert f"{source} -> {target} (pod): icmp, tcp" in result["msg"], result["msg"]
    assert "kf-node-1 -> kf-node-2" not in result["msg"] and "kf-node-2 -> kf-node-1" not in result["msg"]
    assert namespace_gone(control_plane)


def test_flannel_1_mtu_below_the_pods_mtu_fails_the_mtu_check_only(control_plane):
    # The classic VXLAN MTU mismatch: the pods send 1450-byte packets with DF, the node's vxlan device carries
    # 1400. Small pings and a small HTTP GET pass; the full-size ping is answered "fragmentation needed".
    node2 = node_host("kf-node-2")
    original = node2.run("cat /sys/class/net/flannel.1/mtu").stdout.strip()
    assert original == "1450"
    assert node2.run("ip link set dev flannel.1 mtu 1400").rc == 0
    try:
        rc, result, _ = verify()
    finally:
        assert node2.run(f"ip link set dev flannel.1 mtu {original}").rc == 0
    assert rc == 1 and result["verified"] is False
    assert failed_pairs(result, "pod") == set() and failed_pairs(result, "host") == set(), result["failures"]
    mtu_failed = {pair for pair, entry in by_pair(result, "pod").items() if not entry["mtu"]["ok"]}
    assert mtu_failed == {("kf-node-2", "kf-node-1"), ("kf-node-2", "kf-node-3")}, result["failures"]
    assert result["failures"] == [
        "kf-node-2 -> kf-node-1 (pod): mtu (ping of 1422 bytes with DF)",
        "kf-node-2 -> kf-node-3 (pod): mtu (ping of 1422 bytes with DF)",
    ]
    assert namespace_gone(control_plane)


def switch(backend: str) -> None:
    run = playbook("playbooks/switch_backend.yml", "-e", f"cni_backend={backend}")
    assert run.rc == 0, run.tail()


def coredns_nodes(control_plane) -> set[str]:
    pods = control_plane.run(
        f"{ADMIN} -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{{.items[*].spec.nodeName}}'"
    )
    return set(pods.stdout.split())


def restart_coredns(control_plane) -> None:
    # What the switch reports as workloads_to_restart: pods that keep the old backend's MTU. The old pods must be
    # gone, not only the new ones ready: a terminating pod's veth still holds its node's cni0 at the old MTU.
    old = control_plane.run(f"{ADMIN} -n kube-system get pods -l k8s-app=kube-dns -o name").stdout.split()
    restarted = control_plane.run(
        f"{ADMIN} -n kube-system rollout restart deployment coredns && "
        f"{ADMIN} -n kube-system rollout status deployment coredns --timeout=120s && "
        f"{ADMIN} -n kube-system wait --for=delete {' '.join(old)} --timeout=120s"
    )
    assert restarted.rc == 0, restarted.stdout + restarted.stderr


def test_host_gw_after_a_live_switch_finds_the_old_mtu_then_verifies(control_plane):
    # vxlan -> host-gw raises the pods' MTU from 1450 to 1500. CoreDNS's pods keep 1450 until restarted, and
    # their veths hold their node's cni0 bridge at 1450: a new pod's full-size packet to that node with DF is
    # answered "fragmentation needed". cni_verify names exactly those pairs; after the restart all pass.
    stale = coredns_nodes(control_plane)
    assert stale
    switch("host-gw")
    rc, result, _ = verify()
    assert rc == 1 and result["verified"] is False
    assert result["pod_mtu"] == dict.fromkeys(NODES, 1500)
    assert failed_pairs(result, "pod") == set() and failed_pairs(result, "host") == set(), result["failures"]
    mtu_failed = {pair for pair, entry in by_pair(result, "pod").items() if not entry["mtu"]["ok"]}
    assert mtu_failed == {(s, t) for s, t in ORDERED_PAIRS if t in stale}, result["failures"]
    assert namespace_gone(control_plane)
    restart_coredns(control_plane)
    rc, result, output = verify()
    assert rc == 0, output[-3000:]
    assert_all_pass(result, mtu=1500)
    assert namespace_gone(control_plane)


def test_back_to_vxlan_verifies(control_plane):
    switch("vxlan")
    rc, result, output = verify()
    assert rc == 0, output[-3000:]
    assert_all_pass(result, mtu=1450)
    assert namespace_gone(control_plane)
    restart_coredns(control_plane)  # leave no pod on host-gw's MTU behind


def live_flannel_backend(control_plane) -> str:
    configmap = kubectl_json(control_plane, "-n", "kube-flannel", "get", "configmap", "kube-flannel-cfg")
    return json.loads(configmap["data"]["net-conf.json"])["Backend"]["Type"]


# Packets for kf-node-3's pods that arrive on its own interface are dropped in the forward hook: host-gw's path
# (plain routing between the nodes) breaks, vxlan's (decapsulated on flannel.1) does not.
BREAK_HOST_GW = (
    "nft add table inet kfhostgw && "
    "nft add chain inet kfhostgw forward_pods '{ type filter hook forward priority -10; }' && "
    "nft add rule inet kfhostgw forward_pods iifname eth0 ip daddr 10.244.0.0/16 drop"
)


@pytest.fixture
def host_gw_broken_on_node_3():
    node3 = node_host("kf-node-3")
    assert node3.run(BREAK_HOST_GW).rc == 0
    yield
    assert node3.run("nft delete table inet kfhostgw").rc == 0


def test_a_failed_switch_comes_back_to_the_previous_backend_with_the_way_back_on(
    control_plane, host_gw_broken_on_node_3
):
    assert live_flannel_backend(control_plane) == "vxlan"
    run = playbook("playbooks/switch_backend.yml", "-e", "cni_backend=host-gw", "-e", "cni_rollback=true")
    assert run.rc != 0
    assert "failed verification after switching flannel from vxlan to host-gw" in run.output, run.tail()
    assert "kf-node-1 -> kf-node-3 (pod): icmp, tcp" in run.output, run.tail()
    assert "Switched back to vxlan, which verifies. The cluster is now on vxlan." in run.output, run.tail()
    assert live_flannel_backend(control_plane) == "vxlan"
    assert namespace_gone(control_plane)


def test_a_failed_switch_stays_and_says_so_with_the_way_back_off(control_plane, host_gw_broken_on_node_3):
    run = playbook("playbooks/switch_backend.yml", "-e", "cni_backend=host-gw")
    assert run.rc != 0
    assert "failed verification after switching flannel from vxlan to host-gw" in run.output, run.tail()
    assert "The cluster stays on host-gw (set cni_rollback: true" in run.output, run.tail()
    assert live_flannel_backend(control_plane) == "host-gw"
    assert namespace_gone(control_plane)


def test_back_to_vxlan_once_the_path_is_repaired(control_plane):
    switch("vxlan")
    assert live_flannel_backend(control_plane) == "vxlan"
    restart_coredns(control_plane)
