"""The test bed itself: a real control plane whose nodes get podCIDRs and run the upstream CNI manifests."""

from __future__ import annotations

import ipaddress
import json
import ssl
import subprocess
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def versions() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in (REPO / "tools/versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    return dict(pairs)


def node_pods(kubectl, namespace: str, selector: str) -> dict[str, dict]:
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", selector)["items"]
    return {pod["spec"]["nodeName"]: pod for pod in pods}


def test_every_node_gets_a_distinct_podcidr_inside_the_pod_cidr(local_cluster, kubectl):
    spec = local_cluster.running_spec()
    nodes = kubectl.json("get", "nodes")["items"]
    assert len(nodes) == spec.nodes
    network = ipaddress.ip_network(spec.pod_cidr)
    cidrs = [ipaddress.ip_network(node["spec"]["podCIDR"]) for node in nodes]
    assert all(cidr.subnet_of(network) and cidr.prefixlen == 24 for cidr in cidrs), cidrs
    assert len(set(cidrs)) == len(cidrs)
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True", node["metadata"]["name"]
    control_planes = [n for n in nodes if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]]
    assert len(control_planes) == 1


def test_binaries_report_the_pinned_version(local_cluster):
    wanted = versions()["K8S_VERSION"]
    kubeadm = subprocess.run(
        [local_cluster.binary("kubeadm"), "version", "-o", "short"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert kubeadm == wanted
    port = local_cluster.running_spec().ports.apiserver
    context = ssl.create_default_context(cafile=str(local_cluster.pki / "ca.crt"))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/version", context=context) as response:
        assert json.load(response)["gitVersion"] == wanted


def test_cluster_up_twice_is_harmless_and_a_different_cidr_is_refused(local_cluster):
    spec = local_cluster.running_spec()
    pids = sorted(p.read_text() for p in local_cluster.pids.glob("*.pid"))
    again = subprocess.run(
        ["python3", str(REPO / "tools/localcluster.py"), "up", "--pod-cidr", spec.pod_cidr, "--nodes", str(spec.nodes)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert sorted(p.read_text() for p in local_cluster.pids.glob("*.pid")) == pids
    other = subprocess.run(
        [
            "python3",
            str(REPO / "tools/localcluster.py"),
            "up",
            "--pod-cidr",
            "10.200.0.0/16",
            "--nodes",
            str(spec.nodes),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 1
    assert "already up with POD_CIDR=" in other.stderr and "make cluster-down" in other.stderr
    assert local_cluster.is_healthy()


def apply(kubectl, path: Path) -> None:
    kubectl.run("apply", "--server-side", "--field-manager=kubeforge-tests", "-f", str(path))


def test_upstream_flannel_runs_one_pod_per_node(upstream, fresh_cluster, kubectl):
    apply(kubectl, upstream / "flannel/v0.28.9/kube-flannel.yml")
    kubectl.run("rollout", "status", "-n", "kube-flannel", "daemonset/kube-flannel-ds", "--timeout=180s")
    nodes = {n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"]}
    pods = node_pods(kubectl, "kube-flannel", "app=flannel")
    assert set(pods) == nodes
    assert {pod["status"]["phase"] for pod in pods.values()} == {"Running"}
    net_conf = json.loads(
        kubectl.json("get", "configmap", "-n", "kube-flannel", "kube-flannel-cfg")["data"]["net-conf.json"]
    )
    assert net_conf["Backend"]["Type"] == "vxlan"


def test_upstream_calico_crds_accepted_and_pods_run(upstream, fresh_cluster, kubectl):
    manifest = upstream / "calico/v3.32.1/calico.yaml"
    apply(kubectl, manifest)
    wanted = {
        doc["metadata"]["name"]
        for doc in yaml.safe_load_all(manifest.read_text())
        if doc and doc["kind"] == "CustomResourceDefinition"
    }
    assert len(wanted) > 20
    established = {
        crd["metadata"]["name"]
        for crd in kubectl.json("get", "crd")["items"]
        if {c["type"]: c["status"] for c in crd["status"]["conditions"]}.get("Established") == "True"
    }
    assert wanted <= established, wanted - established
    kubectl.run("rollout", "status", "-n", "kube-system", "daemonset/calico-node", "--timeout=180s")
    kubectl.run(
        "wait", "-n", "kube-system", "deployment/calico-kube-controllers", "--for=condition=Available", "--timeout=180s"
    )
    nodes = {n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"]}
    assert set(node_pods(kubectl, "kube-system", "k8s-app=calico-node")) == nodes
    controllers = kubectl.json("get", "deployment", "-n", "kube-system", "calico-kube-controllers")
    assert controllers["status"]["availableReplicas"] == controllers["spec"]["replicas"] == 1


def test_controller_manager_runs_with_the_network_flags_kubeadm_generated(local_cluster):
    spec = local_cluster.running_spec()
    manifest = (local_cluster.pki / "kube-controller-manager.yaml").read_text()
    assert f"- --cluster-cidr={spec.pod_cidr}" in manifest
    assert "- --allocate-node-cidrs=true" in manifest
    pid = next(local_cluster.pids.glob("*-kube-controller-manager.pid")).read_text()
    running = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert f"--cluster-cidr={spec.pod_cidr}".encode() in running
    assert b"--allocate-node-cidrs=true" in running
