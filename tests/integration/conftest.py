"""Fixtures of the integration tests that install a CNI on the local cluster."""

from __future__ import annotations

import pytest

from tests.helpers.cluster_state import reuse
from tests.helpers.cni_cluster import Cluster


@pytest.fixture
def cluster(fresh_cluster, kubectl, upstream):
    return Cluster(kubectl, fresh_cluster, upstream)


@pytest.fixture
def flannel_cluster(local_cluster, kubectl, upstream):
    """Flannel installed by cni_config with its defaults: the one the last test left so (leave(..., "flannel")),
    else a fresh cluster and an install."""
    cluster = Cluster(kubectl, local_cluster, upstream)
    if not reuse(local_cluster, "flannel"):
        local_cluster.reset(local_cluster.session_spec)
        installed = cluster.module(cni="flannel")
        assert not installed.get("failed"), installed.get("msg")
    cluster.local = local_cluster
    return cluster
