"""Reusing the local cluster between tests that need the same state, instead of rebuilding it for each."""

from __future__ import annotations


# What the last test left on the local cluster, when it says so (leave()): "fresh" (no CNI), or a label such as
# "flannel" or "site:calico". A test that ends any other way, or fails, leaves None: the next one starts over.
def leave(cluster, state: str) -> None:
    """Call at the end of a test that proved what it left (e.g. an audit log with no writes): the next test that
    needs exactly that reuses it instead of rebuilding the cluster."""
    cluster.state = state


def reuse(cluster, *states: str, pod_cidr: str | None = None) -> bool:
    """True when the running cluster is in one of states, on pod_cidr (default: the session's); the test owns it
    from here."""
    running = cluster.running_spec()
    reusable = (
        cluster.state in states
        and running is not None
        and running.pod_cidr == (pod_cidr or cluster.session_spec.pod_cidr)
        and cluster.is_healthy()
    )
    cluster.state = None
    return reusable
