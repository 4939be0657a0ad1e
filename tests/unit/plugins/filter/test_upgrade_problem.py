"""Which Kubernetes upgrades the upgrade playbook refuses before any change, and what it says instead."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.filter.upgrade_problem import upgrade_problem


@pytest.mark.parametrize(
    ("current", "target", "kubelets"),
    [
        ("v1.35.4", "1.36.3", {"a": "v1.35.4", "b": "v1.35.4"}),  # one minor
        ("v1.35.4", "v1.35.9", {"a": "v1.35.4"}),  # a patch
        ("v1.36.3", "1.36.3", {"a": "v1.36.3"}),  # nothing to do
        ("v1.36.3", "1.36.3", {"a": "v1.35.4"}),  # an upgrade that stopped between nodes goes on
        ("1.36.3", "1.37.0", {"a": "v1.34.0"}),  # a kubelet three minors behind the new version
    ],
)
def test_allowed(current, target, kubelets):
    assert upgrade_problem(current, target, kubelets) == ""


@pytest.mark.parametrize(
    ("current", "target", "kubelets", "expected"),
    [
        (
            "v1.34.4",
            "1.36.3",
            {},
            "v1.34.4 -> v1.36.3 skips 1.35: kubeadm upgrades one minor at a time. "
            "Upgrade to the newest 1.35 patch first (node_install_kubernetes_version=1.35.x), then to v1.36.3.",
        ),
        (
            "v1.36.3",
            "1.35.4",
            {},
            "The cluster runs v1.36.3 and node_install_kubernetes_version=1.35.4 is older: kubeadm does not downgrade.",
        ),
        ("v1.36.3", "1.36.1", {}, "is older: kubeadm does not downgrade"),
        ("v1.36.3", "2.0.0", {}, "changes the major version"),
        ("v1.36.3", "1.37", {}, "node_install_kubernetes_version=1.37 is not a Kubernetes release such as 1.36.3."),
        ("v1.35.4", "1.36.3", {"kf-node-2": "v1.36.4"}, "Node kf-node-2 runs kubelet v1.36.4, newer than"),
        ("v1.36.3", "1.37.0", {"old": "v1.33.1"}, "Node old runs kubelet v1.33.1, more than 3 minors older"),
    ],
)
def test_refused_with_the_path(current, target, kubelets, expected):
    assert expected in upgrade_problem(current, target, kubelets)


def test_the_message_names_the_callers_variable():
    assert upgrade_problem("v1.34.0", "1.36.0", variable="kubernetes_version").count("kubernetes_version=") == 1
