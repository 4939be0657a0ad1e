"""A re-run of site.yml skips what is already right (roles read each node once, kubeforge.cluster.node_info, and
write only what differs): here, that it still finds and repairs every kind of drift it skips over. Files edited,
a mode changed, a binary and a CNI plugin deleted, a unit disabled, a sysctl reset, the kubeadm configuration
edited; the next site.yml changes exactly those tasks and restores each on the node; the run after it changes
nothing. Run by the molecule scenario `nodes` (side_effect) last, on the upgraded cluster, as a user re-runs it."""

from __future__ import annotations

import pytest
from images import read_versions

from tests.helpers.nodes import ADMIN, CONTROL_PLANE, REPO, node_host, playbook

NEW = read_versions(REPO / "tools" / "versions.env")["FLANNEL_VERSION"]
SITE = ("site.yml", "-e", f"cni_version={NEW}")
DRIFT = {
    "kf-node-1": ["echo '# drift' >> /etc/kubernetes/kubeforge/kubeadm.yaml"],
    "kf-node-2": [
        "echo '# drift' >> /etc/containerd/config.toml",
        "chmod 0600 /etc/sysctl.d/99-kubernetes.conf",
        "rm /usr/local/bin/kubectl",
    ],
    "kf-node-3": [
        "echo '# drift' >> /etc/systemd/system/kubelet.service",
        "systemctl disable --quiet kubelet",
        "sysctl -qw net.ipv4.ip_forward=0",
        "rm /opt/cni/bin/host-local",
    ],
}
REPAIRED = {
    ("Render the kubeadm configuration (v1beta4)", "kf-node-1"),
    ("Install the programs", "kf-node-2"),
    ("Configure containerd - CRI, cgroup driver, sandbox image", "kf-node-2"),
    ("Restart containerd", "kf-node-2"),
    ("Keep the sysctls kubeadm and the CNI need after a reboot", "kf-node-2"),
    ("Unpack containerd and the CNI plugins", "kf-node-3"),
    ("Write the systemd units for the release binaries", "kf-node-3"),
    ("Restart containerd", "kf-node-3"),
    ("Restart kubelet", "kf-node-3"),
    ("Enable the kubelet", "kf-node-3"),
    ("Set the sysctls that differ", "kf-node-3"),
}


@pytest.fixture(scope="module")
def repaired():
    assert playbook(*SITE).changed == 0, "the cluster was not converged before the drift"
    for name, commands in DRIFT.items():
        result = node_host(name).run(" && ".join(commands))
        assert result.rc == 0, result.stderr
    run = playbook(*SITE)
    assert run.rc == 0, run.tail()
    return run


def test_the_rerun_changes_exactly_what_drifted(repaired):
    assert repaired.changed_tasks == REPAIRED, repaired.tail()


def test_each_node_has_what_site_yml_wrote_again():
    first, second, third = (node_host(name) for name in DRIFT)
    assert "# drift" not in first.file("/etc/kubernetes/kubeforge/kubeadm.yaml").content_string
    assert "# drift" not in second.file("/etc/containerd/config.toml").content_string
    assert second.file("/etc/sysctl.d/99-kubernetes.conf").mode == 0o644
    assert second.run("/usr/local/bin/kubectl version --client").rc == 0
    assert "# drift" not in third.file("/etc/systemd/system/kubelet.service").content_string
    assert third.run("systemctl is-enabled kubelet").stdout.strip() == "enabled"
    assert third.run("systemctl show -P NeedDaemonReload kubelet").stdout.strip() == "no"
    assert third.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "1"
    assert third.file("/opt/cni/bin/host-local").mode == 0o755


def test_the_run_after_the_repair_changes_nothing_and_the_nodes_are_ready():
    run = playbook(*SITE)
    assert run.rc == 0 and run.changed == 0, run.changed_tasks or run.tail()
    ready = node_host(CONTROL_PLANE).run(f"{ADMIN} wait --for=condition=Ready node --all --timeout=120s")
    assert ready.rc == 0, ready.stderr
