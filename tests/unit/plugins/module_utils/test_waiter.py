"""Waiting: a DaemonSet rolled out and every old pod replaced, or a timeout naming the lagging nodes."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import WaitTimeout
from ansible_collections.kubeforge.cluster.plugins.module_utils.waiter import (
    rolled_out,
    wait_crd_established,
    wait_pods_replaced,
    watch_until,
)

from .fake_client import FakeClient

SPEC = {"namespace": "kube-flannel", "daemonset": "kube-flannel-ds", "pod_selector": "app=flannel"}
DONE = {
    "observedGeneration": 2,
    "desiredNumberScheduled": 2,
    "updatedNumberScheduled": 2,
    "numberAvailable": 2,
}


def daemonset(**status):
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "kube-flannel-ds", "namespace": "kube-flannel", "generation": 2, "uid": "ds"},
        "status": dict(DONE, **status),
    }


def pod(name, node, uid, ready=True):
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-flannel", "uid": uid},
        "spec": {"nodeName": node},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_rolled_out_needs_every_pod_updated_and_available():
    assert rolled_out(daemonset())
    for field, value in (("observedGeneration", 1), ("updatedNumberScheduled", 1), ("numberAvailable", 1)):
        assert not rolled_out(daemonset(**{field: value})), field


def test_watch_follows_events_until_the_predicate_holds():
    client = FakeClient([daemonset(numberAvailable=1)], events=[("MODIFIED", daemonset())])
    assert watch_until(client, "apps/v1", "DaemonSet", lambda items: all(map(rolled_out, items.values())), 5)
    assert client.requests["WATCH"] == 1


def test_a_watch_that_ends_without_the_state_returns_false():
    client = FakeClient([daemonset(numberAvailable=1)], events=[("MODIFIED", daemonset(numberAvailable=1))])
    assert not watch_until(client, "apps/v1", "DaemonSet", lambda items: all(map(rolled_out, items.values())), 1)


def test_pods_replaced_passes_once_only_new_ready_pods_are_left():
    old = [pod("old-a", "a", "u1"), pod("old-b", "b", "u2")]
    client = FakeClient(
        [daemonset(), *old],
        events=[
            ("DELETED", old[0]),
            ("DELETED", old[1]),
            ("ADDED", pod("new-a", "a", "u3")),
            ("ADDED", pod("new-b", "b", "u4")),
        ],
    )
    wait_pods_replaced(client, SPEC, old, {"a": {}, "b": {}}, 5)


def test_a_timeout_names_exactly_the_lagging_nodes():
    old = [pod("old-a", "a", "u1"), pod("old-b", "b", "u2")]
    client = FakeClient(
        [daemonset(), old[1], pod("new-a", "a", "u3")],  # node b still runs its old pod
        events=[("ADDED", pod("new-c", "c", "u5", ready=False))],
    )
    with pytest.raises(
        WaitTimeout, match=r"kube-flannel-ds did not finish restarting within 1s; nodes without a new ready pod: b, c$"
    ):
        wait_pods_replaced(client, SPEC, old, {"a": {}, "b": {}, "c": {}}, 1)


def test_a_crd_never_established_times_out_naming_it():
    crd = {"kind": "CustomResourceDefinition", "metadata": {"name": "ippools.crd.projectcalico.org"}, "status": {}}
    with pytest.raises(WaitTimeout, match=r"CRD ippools.crd.projectcalico.org was not established within 1s"):
        wait_crd_established(FakeClient([crd]), "ippools.crd.projectcalico.org", timeout=1)
