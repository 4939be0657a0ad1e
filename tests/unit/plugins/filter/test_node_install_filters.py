"""The pure parts of the node_install role: release file names and URLs, and refusing other versions."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubeforge.cluster.plugins.filter.release_files import release_files
from ansible_collections.kubeforge.cluster.plugins.filter.version_conflicts import version_conflicts

URLS = {
    "kubeadm": "https://dl.k8s.io/release/v{version}/bin/linux/{arch}/kubeadm",
    "containerd": "https://github.com/containerd/containerd/releases/download/v{version}/containerd-{version}-linux-{arch}.tar.gz",
}
CHECKSUMS = {name: url + ".sha256" for name, url in URLS.items()}


def test_release_files_fill_version_and_arch_and_name_the_file():
    entries = [
        {"name": "kubeadm", "version": "1.36.3", "dest": "/usr/local/bin/kubeadm"},
        {"name": "containerd", "version": "2.1.4"},
    ]
    files = release_files(entries, URLS, CHECKSUMS, "arm64")
    assert files[0] == {
        "name": "kubeadm",
        "version": "1.36.3",
        "dest": "/usr/local/bin/kubeadm",
        "url": "https://dl.k8s.io/release/v1.36.3/bin/linux/arm64/kubeadm",
        "checksum_url": "https://dl.k8s.io/release/v1.36.3/bin/linux/arm64/kubeadm.sha256",
        "file": "kubeadm",
    }
    assert files[1]["file"] == "containerd-2.1.4-linux-arm64.tar.gz"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "kubeadm", "version": "v1.36.3"}, "without the leading 'v'"),
        ({"name": "crictl", "version": "1.36.0"}, "no URL .* for crictl"),
    ],
)
def test_release_files_refuse_what_they_cannot_fill(entry, message):
    with pytest.raises(AnsibleFilterError, match=message):
        release_files([entry], URLS, CHECKSUMS, "amd64")


def test_version_conflicts_name_program_path_and_both_versions():
    lines = [
        "kubeadm /usr/local/bin/kubeadm v1.36.3",
        "kubelet /usr/bin/kubelet Kubernetes v1.35.2",
        "containerd /usr/bin/containerd containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3",
        "runc /usr/sbin/runc runc version 1.1.5+ds1",
        "kubectl /usr/bin/kubectl",
    ]
    pinned = {"kubeadm": "1.36.3", "kubelet": "1.36.3", "kubectl": "1.36.3", "containerd": "1.6.20", "runc": "1.3.0"}
    assert version_conflicts(lines, pinned) == [
        "kubelet 1.35.2 is installed at /usr/bin/kubelet, this play pins 1.36.3",
        "runc 1.1.5 is installed at /usr/sbin/runc, this play pins 1.3.0",
        "kubectl at /usr/bin/kubectl does not tell its version; this play pins 1.36.3",
    ]
    assert version_conflicts(lines[:1], {"kubectl": "1.36.3"}) == [], "unpinned programs are not judged"
