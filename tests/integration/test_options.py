"""cni_config's options that no other test drives, on the real control plane: restart never/always, wait false,
Calico's MTU, a manifest from a URL (and its cache) or a path, a kubeconfig context, the image registry on
Deployments, and a live `calico_backend: ipip` rewritten. Expectations are literal object state read with kubectl."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
import time

import yaml

from tests.helpers.ansible import run_module
from tests.helpers.cluster_state import leave
from tests.helpers.cni_cluster import FLANNEL_LIKE

NAMESPACE, CONFIGMAP, DAEMONSET, SELECTOR = FLANNEL_LIKE["flannel"]
REGISTRY = "registry.example.com/mirror"


def warnings_of(result) -> str:
    return " ".join((result["stderr_of_run"] + " ".join(result.get("warnings", []))).split())


def wait_for_running_pods(cluster, old_uids, timeout=120):
    """Every node has a Running flannel pod that is not one of old_uids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = [p for p in cluster.pods(NAMESPACE, SELECTOR) if "deletionTimestamp" not in p["metadata"]]
        fresh = {p["spec"]["nodeName"] for p in pods if p["metadata"]["uid"] not in old_uids}
        if fresh == cluster.nodes() and all(p["status"]["phase"] == "Running" for p in pods):
            return
        time.sleep(0.5)
    raise AssertionError(f"the flannel pods were not replaced within {timeout}s")


def test_restart_never_then_auto_then_always_and_wait_false(flannel_cluster):
    cluster = flannel_cluster
    before = cluster.pod_uids(NAMESPACE, SELECTOR)
    kept = cluster.module(cni="flannel", backend="host-gw", restart="never")
    assert not kept["failed"], kept["msg"]
    assert kept["changed"] and kept["restarted"] == []
    assert "restart=never: the kube-flannel-ds pods keep the previous configuration" in warnings_of(kept)
    assert cluster.net_conf("flannel")["Backend"]["Type"] == "host-gw"
    assert cluster.pod_uids(NAMESPACE, SELECTOR) == before
    # auto: the config did not change in this run, but the pods run an older one than the ConfigMap holds.
    caught_up = cluster.module(cni="flannel", backend="host-gw")
    assert not caught_up["failed"], caught_up["msg"]
    assert caught_up["changed"] and len(caught_up["restarted"]) == 3
    assert cluster.pod_uids(NAMESPACE, SELECTOR).isdisjoint(before)
    # always: nothing to change, the pods are replaced anyway; wait false returns without waiting for them.
    current = cluster.pod_uids(NAMESPACE, SELECTOR)
    started = time.monotonic()
    restarted = cluster.module(cni="flannel", backend="host-gw", restart="always", wait=False)
    assert not restarted["failed"], restarted["msg"]
    assert restarted["changed"] and len(restarted["restarted"]) == 3
    assert restarted["api_requests"]["WATCH"] == 0  # nothing waited for
    wait_for_running_pods(cluster, current)
    assert time.monotonic() - started < 120
    leave(cluster.local, "flannel:host-gw")


def test_calico_mtu_registry_on_deployments_manifest_path_and_context(cluster, upstream, tmp_path, kubectl):
    # A kubeconfig whose current context points nowhere: only `context` makes the module reach the cluster.
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    good = config["current-context"]
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    user = config["users"][0]["name"]
    config["contexts"].append({"name": "nowhere", "context": {"cluster": "nowhere", "user": user}})
    config["current-context"] = "nowhere"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    args = {
        "cni": "calico",
        "manifest_path": str(upstream / "calico/v3.32.1/calico.yaml"),
        "mtu": 1400,
        "image_registry": REGISTRY,
        "kubeconfig": str(kubeconfig),
    }
    unreachable = run_module("cni_config", args, kubeconfig)
    assert unreachable["failed"] and "127.0.0.1:1" in unreachable["msg"], unreachable
    installed = run_module("cni_config", {**args, "context": good}, kubeconfig)
    assert not installed["failed"], installed["msg"]
    assert kubectl.json("get", "configmap", "-n", "kube-system", "calico-config")["data"]["veth_mtu"] == "1400"
    deployment = kubectl.json("get", "deployment", "-n", "kube-system", "calico-kube-controllers")
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == [f"{REGISTRY}/calico/kube-controllers:v3.32.1"], images
    again = run_module("cni_config", {**args, "context": good}, kubeconfig)
    assert not again["failed"] and again["changed"] is False and again["api_requests"]["write"] == 0, again
    # What a popular write-up tells users to set by hand: calico-node would run it as bird, silently.
    patch = json.dumps({"data": {"calico_backend": "ipip"}})
    kubectl.run("patch", "configmap", "-n", "kube-system", "calico-config", "--type=merge", "-p", patch)
    rewritten = run_module("cni_config", {**args, "context": good, "backend": "ipip"}, kubeconfig)
    assert not rewritten["failed"], rewritten["msg"]
    assert rewritten["changed"] and "calico-config had calico_backend: ipip" in warnings_of(rewritten)
    assert kubectl.json("get", "configmap", "-n", "kube-system", "calico-config")["data"]["calico_backend"] == "bird"
    pool = kubectl.json("get", "ippools.crd.projectcalico.org", "default-ipv4-ippool")["spec"]
    assert (pool["ipipMode"], pool["vxlanMode"]) == ("Always", "Never")


def test_a_manifest_url_is_checked_downloaded_once_and_served_from_the_cache(cluster, upstream, tmp_path, monkeypatch):
    manifest = upstream / "flannel/v0.28.9/kube-flannel.yml"
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    monkeypatch.setenv("KUBEFORGE_CACHE", str(tmp_path / "cache"))
    served = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            served.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(manifest.parent))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/{manifest.name}"
    try:
        wrong = run_module(
            "cni_config", {"cni": "flannel", "manifest_url": url, "manifest_sha256": "0" * 64}, cluster.kubeconfig
        )
        assert wrong["failed"] and f"has sha256 {digest}, not the expected" in wrong["msg"], wrong
        assert wrong.get("api_requests", {}).get("write", 0) == 0 and not wrong.get("created"), wrong
        installed = run_module(
            "cni_config", {"cni": "flannel", "manifest_url": url, "manifest_sha256": digest}, cluster.kubeconfig
        )
        assert not installed["failed"], installed["msg"]
        assert cluster.net_conf("flannel")["Backend"]["Type"] == "vxlan"
    finally:
        server.shutdown()
        server.server_close()
    assert len(served) == 2  # the wrong checksum's download is not cached; the right one is
    # The server is gone: the same manifest comes from the cache, checked again.
    again = run_module(
        "cni_config", {"cni": "flannel", "manifest_url": url, "manifest_sha256": digest}, cluster.kubeconfig
    )
    assert not again["failed"] and again["changed"] is False, again
