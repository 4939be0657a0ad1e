"""The Flannel upgrade on the real nodes, as a user runs it: site.yml with cni_version=FLANNEL_VERSION (v0.28.9) on the
cluster the molecule scenario `nodes` converged with cni_version=FLANNEL_OLD_VERSION (v0.26.7; both flanneld builds
from their Go modules, tools/versions.env). Before: every node runs the old flanneld and pods reach each other across
nodes. After: every flannel pod was replaced and runs the new images, the flanneld process on every node is the new
build, the probe pods started before the upgrade still reach each other across nodes over flannel.1 (and a ping kept
running through the upgrade says how many replies were lost), and the role's own cni_verify passed. (That a second
run then writes nothing is proven on the embedded cluster, tests/integration/test_upgrade.py, and molecule's
idempotence step proves it of site.yml on these nodes; a third site.yml run here would cost CI 1.5 minutes.)
Run by the molecule scenario `nodes` (side_effect) before test_switch and test_verify, which then run on the
upgraded cluster."""

from __future__ import annotations

import itertools
import re
import shlex

import pytest
from images import parse_manifest_images, read_versions

from tests.conftest import upstream_dir
from tests.helpers.nodes import ADMIN, CONTROL_PLANE, REPO, kubectl_json, node_host, playbook
from tests.nodes.probes import NAMESPACE, delete_probes, pings_between, running_probe_pods, start_probe_pods

NODES = ["kf-node-1", "kf-node-2", "kf-node-3"]
VERSIONS = read_versions(REPO / "tools" / "versions.env")
OLD, NEW = VERSIONS["FLANNEL_OLD_VERSION"], VERSIONS["FLANNEL_VERSION"]
# What each test of this file hands to the next: the old flannel pods, the probe pods started on the old version.
STATE: dict = {}
# A ping from kf-node-2's probe pod to kf-node-3's, kept running in the pod through the upgrade.
PING_LOG = "/tmp/upgrade-ping.log"  # noqa: S108 (a path inside the probe pod)


@pytest.fixture(scope="module")
def control_plane():
    host = node_host(CONTROL_PLANE)
    yield host
    delete_probes(host)


def manifest_images(version: str) -> set[str]:
    return set(parse_manifest_images((upstream_dir() / "flannel" / version / "kube-flannel.yml").read_text()))


def flannel_pods(control_plane) -> list[dict]:
    return kubectl_json(control_plane, "-n", "kube-flannel", "get", "pods", "-l", "app=flannel")["items"]


def node_images(name: str) -> dict[str, str]:
    """The images in node NAME's containerd: name -> digest."""
    listed = node_host(name).run("ctr -n k8s.io images ls")
    assert listed.rc == 0, listed.stderr
    return {cols[0]: cols[2] for cols in (line.split() for line in listed.stdout.splitlines()[1:]) if len(cols) > 2}


def assert_pod_runs(pod: dict, wanted: set[str]) -> None:
    """POD's containers (init containers too) name exactly the images WANTED, and each ran the image its spec names.
    The status names an image by one of its tags: here both flannel-cni-plugin tags are the same image."""
    name = pod["metadata"]["name"]
    spec = {c["name"]: c["image"] for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]}
    assert set(spec.values()) == wanted, (name, spec)
    digests = node_images(pod["spec"]["nodeName"])
    statuses = pod["status"].get("initContainerStatuses", []) + pod["status"].get("containerStatuses", [])
    assert sorted(s["name"] for s in statuses) == sorted(spec), (name, statuses)
    for status in statuses:
        assert digests.get(status["image"]) == digests[spec[status["name"]]], (name, status, spec)


def all_ready(pod: dict) -> bool:
    statuses = pod["status"].get("containerStatuses", [])
    return pod["status"].get("phase") == "Running" and bool(statuses) and all(c["ready"] for c in statuses)


def running_flanneld(name: str) -> list[str]:
    """What each flanneld process on node NAME says its version is, from the very binary it runs (/proc/PID/exe)."""
    result = node_host(name).run(
        'for pid in $(pgrep -x flanneld); do printf "%s " "$pid"; /proc/"$pid"/exe --version 2>&1; echo; done'
    )
    assert result.rc == 0, result.stderr
    return [line.split(" ", 1)[1].strip() for line in result.stdout.splitlines() if line.strip()]


def assert_flannel_runs(control_plane, version: str) -> list[dict]:
    pods = flannel_pods(control_plane)
    assert sorted(pod["spec"]["nodeName"] for pod in pods) == NODES, [p["metadata"]["name"] for p in pods]
    wanted = manifest_images(version)
    for pod in pods:
        assert all_ready(pod), (pod["metadata"]["name"], pod["status"])
        assert_pod_runs(pod, wanted)
    daemonset = kubectl_json(control_plane, "-n", "kube-flannel", "get", "daemonset", "kube-flannel-ds")
    template = daemonset["spec"]["template"]["spec"]
    assert {c["image"] for c in template.get("initContainers", []) + template["containers"]} == wanted
    for name in NODES:
        assert running_flanneld(name) == [version], f"{name} runs flanneld {running_flanneld(name)}, not {version}"
    return pods


def test_the_old_flannel_runs_on_every_node_and_pods_reach_each_other(control_plane):
    daemonset = kubectl_json(control_plane, "-n", "kube-flannel", "get", "daemonset", "kube-flannel-ds")
    images = [c["image"] for c in daemonset["spec"]["template"]["spec"]["containers"]]
    assert images == [f"ghcr.io/flannel-io/flannel:{OLD}"], (
        f"the cluster runs {images}: these tests start from Flannel {OLD} "
        f"(site.yml -e cni_version={OLD}, as the molecule scenario nodes converges)"
    )
    pods = assert_flannel_runs(control_plane, OLD)
    STATE["flannel_uids"] = {pod["metadata"]["uid"] for pod in pods}
    STATE["probes"] = start_probe_pods(control_plane, NODES)
    results = pings_between(control_plane, NODES, {n: p["ip"] for n, p in STATE["probes"].items()}, "flannel.1")
    assert results["failures"] == [], results
    assert all(delta > 0 for delta in results["tx_delta"].values()), results["tx_delta"]


def ping_through_the_upgrade(control_plane, start: bool) -> str:
    """Starts (in kf-node-2's probe pod, in the background, 5 a second) or stops the ping to kf-node-3's probe pod;
    on stop, returns its output."""
    pod = f"{ADMIN} -n {NAMESPACE} exec probe-kf-node-2 --"
    if start:
        target = STATE["probes"]["kf-node-3"]["ip"]
        script = f"ping -i 0.2 {target} > {PING_LOG} 2>&1 & echo $! > {PING_LOG}.pid"
        started = control_plane.run(f"{pod} sh -c {shlex.quote(script)}")
        assert started.rc == 0, started.stdout + started.stderr
        return ""
    stopped = control_plane.run(
        f"{pod} sh -c {shlex.quote(f'kill -INT $(cat {PING_LOG}.pid); sleep 1; cat {PING_LOG}')}"
    )
    assert stopped.rc == 0, stopped.stdout + stopped.stderr
    return stopped.stdout


def longest_gap(ping_output: str) -> int:
    """The most consecutive echo requests without a reply, from busybox ping's seq= lines."""
    seqs = sorted(int(s) for s in re.findall(r"seq=(\d+)", ping_output))
    sent = re.search(r"(\d+) packets transmitted", ping_output)
    ends = [-1, *seqs, int(sent.group(1)) if sent else (seqs[-1] + 1 if seqs else 0)]
    return max(b - a - 1 for a, b in itertools.pairwise(ends))


def test_the_upgrade_replaces_every_flannel_pod_and_keeps_pods_talking(control_plane):
    assert STATE, "needs the test before it (the old version installed and probed)"
    ping_through_the_upgrade(control_plane, start=True)
    run = playbook("site.yml", "-e", f"cni_version={NEW}")
    ping = ping_through_the_upgrade(control_plane, start=False)
    assert run.rc == 0, run.tail()
    # Only the CNI changed: nothing on the nodes themselves.
    assert run.recap[CONTROL_PLANE]["changed"] > 0, run.recap
    assert all(run.recap[name]["changed"] == 0 for name in NODES if name != CONTROL_PLANE), run.recap
    # The role verified the pod network itself after the change: cni_verify's probe pods on every node, pod to pod
    # and node to pod across nodes, and a Service; a failure there fails the play.
    assert re.search(
        r"TASK \[kubeforge\.cluster\.cni : Verify with probe pods that pods reach each other across the nodes\][^\n]*\n"
        rf"ok: \[{CONTROL_PLANE}\]",
        run.output,
    ), run.tail()
    assert f"CNI: flannel {NEW}, backend vxlan" in " ".join(run.output.split()), run.tail()

    pods = assert_flannel_runs(control_plane, NEW)
    assert not {pod["metadata"]["uid"] for pod in pods} & STATE["flannel_uids"], "every flannel pod replaced"
    for name in NODES:
        assert node_host(name).file("/etc/cni/net.d/10-flannel.conflist").exists, name

    # The pods started on the old version are the same pods, and still reach each other across nodes.
    assert running_probe_pods(control_plane) == STATE["probes"]
    results = pings_between(control_plane, NODES, {n: p["ip"] for n, p in STATE["probes"].items()}, "flannel.1")
    assert results["failures"] == [], results
    assert all(delta > 0 for delta in results["tx_delta"].values()), results["tx_delta"]
    # Through the upgrade: flanneld restarts on every node while the kernel keeps flannel.1, its routes and
    # neighbours, so the ping goes on; at most a few replies (one second) may be lost while the device is reset.
    summary = re.search(r"(\d+) packets transmitted, (\d+) packets received", ping)
    assert summary, ping[-2000:]
    transmitted, received = int(summary.group(1)), int(summary.group(2))
    print(
        f"\nping kf-node-2 pod -> kf-node-3 pod through the upgrade: {transmitted} sent, {received} answered, "
        f"longest gap {longest_gap(ping)} requests of 0.2 s"
    )
    assert transmitted > 25 and longest_gap(ping) <= 5, ping[-2000:]
