"""Faults during a Flannel backend switch on the local cluster: the play killed, etcd restarted, a node whose CNI pod
never starts, two switches at once. Each ends in one backend on every pod, or in a failure that says what happened.

The end state is read with kubectl and judged by timestamps and the DaemonSet controller's own status, not by the
collection's config hash alone: every flannel pod was created after the ConfigMap's last write (flannel reads
net-conf.json only at start), one per node, Running, and the DaemonSet's rollout is complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from tests.helpers.ansible import describe_writes, run_module
from tests.helpers.cni_cluster import FLANNEL_LIKE

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NAMESPACE, CONFIGMAP, DAEMONSET, SELECTOR = FLANNEL_LIKE["flannel"]


def timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def live_backend(cluster) -> str:
    return cluster.net_conf("flannel")["Backend"]["Type"]


def assert_every_pod_runs_the_final_configuration(cluster, backend: str) -> None:
    configmap = cluster.kubectl.json("get", "configmap", "-n", NAMESPACE, CONFIGMAP, "--show-managed-fields")
    assert json.loads(configmap["data"]["net-conf.json"])["Backend"]["Type"] == backend
    written = max(timestamp(entry["time"]) for entry in configmap["metadata"]["managedFields"])
    pods = cluster.pods(NAMESPACE, SELECTOR)
    assert sorted(pod["spec"]["nodeName"] for pod in pods) == sorted(cluster.nodes())
    for pod in pods:
        name = pod["metadata"]["name"]
        assert pod["status"]["phase"] == "Running" and "deletionTimestamp" not in pod["metadata"], name
        assert timestamp(pod["metadata"]["creationTimestamp"]) >= written, f"{name} started before the last write"
    daemonset = cluster.daemonset(NAMESPACE, DAEMONSET)
    status = daemonset["status"]
    assert status["observedGeneration"] == daemonset["metadata"]["generation"]
    nodes = len(cluster.nodes())
    assert (status["desiredNumberScheduled"], status["updatedNumberScheduled"], status["numberAvailable"]) == (
        nodes,
        nodes,
        nodes,
    )
    hashes = {pod["metadata"]["annotations"].get("kubeforge.io/config-hash") for pod in pods}
    assert hashes == {daemonset["spec"]["template"]["metadata"]["annotations"]["kubeforge.io/config-hash"]}


def start_switch(backend: str) -> subprocess.Popen:
    """playbooks/switch_backend.yml on the local inventory, in its own process group (so that it can be killed
    whole, as a terminal's kill -9 of the play would)."""
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", ANSIBLE_NOCOLOR="1")
    return subprocess.Popen(
        [str(VENV_BIN / "ansible-playbook"), "playbooks/switch_backend.yml", "-e", f"cni_backend={backend}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_until(predicate, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def switch(backend: str) -> tuple[int, str]:
    play = start_switch(backend)
    output, _ = play.communicate(timeout=600)
    return play.returncode, output


def recap_changed(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("localhost") and "changed=" in line)
    return int(line.split("changed=")[1].split()[0])


def assert_converges_then_changes_nothing(cluster, audit, backend: str) -> None:
    rc, output = switch(backend)
    assert rc == 0, output[-3000:]
    assert_every_pod_runs_the_final_configuration(cluster, backend)
    since = audit.offset()
    rc, output = switch(backend)
    assert rc == 0 and recap_changed(output) == 0, output[-3000:]
    assert describe_writes(audit.writes_since(since)) == []


def test_a_switch_killed_in_the_middle_converges_on_the_next_run(flannel_cluster, audit):
    cluster = flannel_cluster
    assert live_backend(cluster) == "vxlan"
    play = start_switch("host-gw")
    try:
        # The moment the new configuration is written, before the pods have been replaced.
        wait_until(lambda: live_backend(cluster) == "host-gw", what="the ConfigMap to change")
    finally:
        os.killpg(play.pid, signal.SIGKILL)
        play.communicate()
    assert play.returncode == -signal.SIGKILL  # killed before it ended
    assert_converges_then_changes_nothing(cluster, audit, "host-gw")


def test_etcd_restarted_during_a_switch_converges_on_the_next_run(flannel_cluster, audit):
    cluster = flannel_cluster
    play = start_switch("host-gw")
    try:
        wait_until(lambda: live_backend(cluster) == "host-gw", what="the ConfigMap to change")
        cluster.local.restart_etcd(down_seconds=5)
    finally:
        output, _ = play.communicate(timeout=600)
    # Survived or failed cleanly: either way no traceback, and the next runs converge.
    assert "Traceback" not in output, output[-3000:]
    assert_converges_then_changes_nothing(cluster, audit, "host-gw")


def test_a_node_whose_cni_pod_never_starts_fails_the_wait_naming_that_node(flannel_cluster, audit):
    cluster = flannel_cluster
    lagging = "kf-worker-2"
    # No room for another pod on that node: its new flannel pod stays Pending.
    patch = json.dumps({"status": {"allocatable": {"pods": "0"}}})
    cluster.kubectl.run("patch", "node", lagging, "--subresource=status", "--type=merge", "-p", patch)
    try:
        started = time.monotonic()
        result = cluster.module(cni="flannel", backend="host-gw", wait_timeout=20)
        took = time.monotonic() - started
    finally:
        patch = json.dumps({"status": {"allocatable": {"pods": "110"}}})
        cluster.kubectl.run("patch", "node", lagging, "--subresource=status", "--type=merge", "-p", patch)
    assert result["failed"], result
    assert "within 20s" in result["msg"] and lagging in result["msg"], result["msg"]
    assert not any(node in result["msg"] for node in cluster.nodes() - {lagging}), result["msg"]
    assert took < 20 + 30, took  # the timeout, plus Ansible's start and the module's reads
    # What was written before the failure is reported, so the re-run's diff is no surprise.
    assert result["updated"] and result["changed"], result
    again = cluster.module(cni="flannel", backend="host-gw")
    assert not again["failed"], again["msg"]
    assert_every_pod_runs_the_final_configuration(cluster, "host-gw")


def test_two_switches_at_once_end_in_one_backend_and_the_loser_says_so(flannel_cluster):
    cluster = flannel_cluster
    results = {}

    def run(backend):
        results[backend] = run_module(
            "cni_config",
            {"cni": "flannel", "backend": backend, "manifest_mirror": str(cluster.upstream)},
            cluster.kubeconfig,
        )

    threads = [threading.Thread(target=run, args=(backend,)) for backend in ("host-gw", "wireguard")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    final = live_backend(cluster)
    assert final in results
    assert not results[final]["failed"], results[final]["msg"]
    other = results["wireguard" if final == "host-gw" else "host-gw"]
    # The other one either finished before the winner wrote, or says that it lost.
    if other["failed"]:
        assert "another writer changed ConfigMap kube-flannel/kube-flannel-cfg" in other["msg"], other["msg"]
    assert_every_pod_runs_the_final_configuration(cluster, final)
