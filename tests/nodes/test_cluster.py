"""What the nodes really have after site.yml on inventories/nodes (Flannel, vxlan): services, files and their
modes, listening ports, devices, routes, and packets that cross nodes. Run by the molecule scenario `nodes`
(verify) once the nodes are up and converged."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import pytest

from tests.helpers.nodes import ADMIN, CONTROL_PLANE, kubectl_json, node_host, testbed_state
from tests.nodes.probes import cross_node_pings, flannel_routes, link

NODES = ["kf-node-1", "kf-node-2", "kf-node-3"]


@pytest.fixture(scope="module")
def control_plane():
    return node_host(CONTROL_PLANE)


def test_three_nodes_are_ready_with_the_pinned_kubelet(control_plane):
    wanted = "v" + testbed_state()["versions"]["kubernetes"]
    waited = control_plane.run(f"{ADMIN} wait --for=condition=Ready node --all --timeout=180s")
    assert waited.rc == 0, waited.stderr
    nodes = kubectl_json(control_plane, "get", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == NODES
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {wanted}
    assert {n["status"]["nodeInfo"]["containerRuntimeVersion"].split(":")[0] for n in nodes} == {"containerd"}
    roles = {n["metadata"]["name"]: "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] for n in nodes}
    assert roles == {"kf-node-1": True, "kf-node-2": False, "kf-node-3": False}


def test_the_pod_cidr_reached_kubeadm_the_nodes_and_flannel(control_plane):
    pod_cidr = ipaddress.ip_network("10.244.0.0/16")
    manifest = control_plane.file("/etc/kubernetes/manifests/kube-controller-manager.yaml").content_string
    assert f"--cluster-cidr={pod_cidr}" in manifest and "--allocate-node-cidrs=true" in manifest
    for node in kubectl_json(control_plane, "get", "nodes")["items"]:
        assert ipaddress.ip_network(node["spec"]["podCIDR"]).subnet_of(pod_cidr)
    for name in NODES:
        subnet_env = node_host(name).file("/run/flannel/subnet.env").content_string
        assert f"FLANNEL_NETWORK={pod_cidr}" in subnet_env


@pytest.mark.parametrize("name", NODES)
def test_services_files_and_modes(name):
    host = node_host(name)
    for service in ("containerd", "kubelet"):
        assert host.service(service).is_running, service
        assert host.service(service).is_enabled, service
    config = host.file("/etc/containerd/config.toml")
    assert config.mode == 0o644 and "SystemdCgroup = true" in config.content_string
    assert 'sandbox_image = "registry.k8s.io/pause:' in config.content_string
    kubelet_conf = host.file("/etc/kubernetes/kubelet.conf")
    assert kubelet_conf.exists and kubelet_conf.mode == 0o600
    assert "cgroupDriver: systemd" in host.file("/var/lib/kubelet/config.yaml").content_string
    dropin = host.file("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf")
    assert dropin.exists and "KUBELET_KUBEADM_ARGS" in dropin.content_string
    for program in (
        "/usr/local/bin/kubelet",
        "/usr/local/bin/kubeadm",
        "/usr/local/bin/containerd",
        "/usr/local/sbin/runc",
    ):
        assert host.file(program).mode == 0o755, program
    assert host.file("/opt/cni/bin/flannel").exists, "flannel's init container copies its CNI plugin"
    assert host.file("/etc/cni/net.d/10-flannel.conflist").exists
    assert host.sysctl("net.ipv4.ip_forward") == 1
    assert host.sysctl("net.bridge.bridge-nf-call-iptables") == 1


@pytest.mark.parametrize("name", NODES)
def test_pods_run_in_systemd_slices_inside_the_node(name):
    host = node_host(name)
    kubelet = host.run("cat /proc/$(systemctl show -p MainPID --value kubelet)/cgroup")
    assert ":memory:/system.slice/kubelet.service" in kubelet.stdout, kubelet.stdout
    slices = host.run("ls -d /sys/fs/cgroup/memory/kubepods.slice/kubepods-*.slice")
    assert slices.rc == 0 and "kubepods-besteffort.slice" in slices.stdout, slices.stdout + slices.stderr
    # The node's cgroup root is its own subtree of the machine's: nothing at the machine's root.
    assert not Path("/sys/fs/cgroup/memory/kubepods.slice").exists()
    assert Path(f"/sys/fs/cgroup/memory/kubeforge/{name}/kubepods.slice").is_dir()


def test_systemd_restarts_containerd_when_it_is_killed_and_the_pods_stay():
    host = node_host("kf-node-3")
    show = "systemctl show -p MainPID -p NRestarts --value containerd"
    first_pid, restarts = (int(v) for v in host.check_output(show).split())
    pods = host.check_output("pgrep -c -f containerd-shim")
    assert host.run(f"kill -9 {first_pid}").rc == 0
    deadline = time.monotonic() + 30  # RestartSec=5 in the role's containerd.service
    while time.monotonic() < deadline:
        pid, count = (int(v) for v in host.check_output(show).split())
        if pid not in {0, first_pid} and host.run("systemctl is-active containerd").stdout.strip() == "active":
            break
        time.sleep(0.5)
    assert pid not in {0, first_pid} and count == restarts + 1, (first_pid, pid, restarts, count)
    assert host.check_output("pgrep -c -f containerd-shim") == pods, "KillMode=process keeps the pods"
    waited = node_host(CONTROL_PLANE).run(f"{ADMIN} wait --for=condition=Ready node/kf-node-3 --timeout=60s")
    assert waited.rc == 0, waited.stderr


@pytest.mark.parametrize("name", NODES)
def test_listening_ports(name):
    host = node_host(name)
    address = host.interface("eth0").addresses[0]
    assert host.socket("tcp://0.0.0.0:22").is_listening or host.socket(f"tcp://{address}:22").is_listening
    assert host.socket("tcp://10250").is_listening, "kubelet"
    if name == CONTROL_PLANE:
        assert host.socket("tcp://6443").is_listening, "kube-apiserver"
        assert host.socket(f"tcp://{address}:2379").is_listening, "etcd"


@pytest.mark.parametrize("name", NODES)
def test_vxlan_device_and_routes(name):
    host = node_host(name)
    device = link(host, "flannel.1")
    assert device is not None, "flannel.1 missing"
    assert device["linkinfo"]["info_kind"] == "vxlan"
    assert device["linkinfo"]["info_data"]["id"] == 1 and device["linkinfo"]["info_data"]["port"] == 8472
    assert device["mtu"] == 1450
    pod_cidrs = {
        n["metadata"]["name"]: n["spec"]["podCIDR"]
        for n in kubectl_json(node_host(CONTROL_PLANE), "get", "nodes")["items"]
    }
    routes = flannel_routes(host, [cidr for node, cidr in pod_cidrs.items() if node != name])
    assert {dst: route.get("dev") for dst, route in routes.items()} == {
        cidr: "flannel.1" for node, cidr in pod_cidrs.items() if node != name
    }


def test_pods_reach_each_other_across_nodes_over_vxlan(control_plane):
    results = cross_node_pings(control_plane, NODES, device="flannel.1")
    assert results["failures"] == [], results
    # Every node's flannel.1 sent packets for the pings that left it.
    assert all(delta > 0 for delta in results["tx_delta"].values()), results["tx_delta"]
