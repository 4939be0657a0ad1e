"""Shared fixtures: the local control plane, once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO))
# The checkout is the collection; Ansible imports it as ansible_collections.kubeforge.cluster.
_link = REPO / ".collections" / "ansible_collections" / "kubeforge" / "cluster"
if not _link.exists():
    _link.parent.mkdir(parents=True, exist_ok=True)
    _link.symlink_to("../../..")
sys.path.insert(0, str(REPO / ".collections"))

from localcluster import ClusterSpec, LocalCluster  # noqa: E402

from tests.helpers.ansible import AuditLog  # noqa: E402
from tests.helpers.cluster_state import reuse  # noqa: E402
from tests.helpers.kubectl import Kubectl  # noqa: E402


def upstream_dir() -> Path:
    """The upstream manifests (test data, never copied into the repository)."""
    return Path(os.environ.get("KUBEFORGE_UPSTREAM", REPO.parent / "shared" / "upstream"))


@pytest.fixture(scope="session")
def upstream() -> Path:
    path = upstream_dir()
    if not (path / "SOURCES.md").exists():
        pytest.fail(f"upstream manifests not found at {path}; set KUBEFORGE_UPSTREAM to the shared/upstream folder")
    return path


@pytest.fixture(scope="session")
def local_cluster() -> LocalCluster:
    """The same cluster `make cluster-up` starts; reused when it is already up, stopped only if started here."""
    cluster = LocalCluster()
    spec = ClusterSpec(
        pod_cidr=os.environ.get("POD_CIDR") or ClusterSpec.pod_cidr,
        nodes=int(os.environ.get("NODES") or ClusterSpec.nodes),
    )
    started_here = not cluster.is_healthy()
    cluster.up(spec)
    cluster.session_spec = spec
    cluster.state = "fresh"
    yield cluster
    if started_here:
        cluster.down()


@pytest.fixture(scope="session")
def kubectl(local_cluster: LocalCluster):
    return Kubectl(local_cluster.binary("kubectl"), str(local_cluster.kubeconfig))


@pytest.fixture
def fresh_cluster(local_cluster: LocalCluster):
    """The local cluster with no CNI installed: restarted unless the last test left it fresh."""
    if not reuse(local_cluster, "fresh"):
        local_cluster.reset(local_cluster.session_spec)
    return local_cluster


@pytest.fixture
def stopped_cluster(local_cluster: LocalCluster):
    """No local cluster running: for playbooks that bring it up themselves."""
    local_cluster.down()
    local_cluster.state = None
    return local_cluster


@pytest.fixture
def audit(local_cluster: LocalCluster, kubectl):
    return AuditLog(local_cluster.logs / "audit.log", kubectl)
