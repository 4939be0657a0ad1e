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
    # Node b still runs its old pod; c, new, has a pod that is not ready.
    client = FakeClient([daemonset(), old[1], pod("new-a", "a", "u3"), pod("new-c", "c", "u5", ready=False)])
    with pytest.raises(
        WaitTimeout, match=r"kube-flannel-ds did not finish restarting within 1s; nodes without a new ready pod: b, c$"
    ):
        wait_pods_replaced(client, SPEC, old, {"a": {}, "b": {}, "c": {}}, 1)


def test_a_timeout_names_the_node_of_a_pod_not_yet_scheduled_and_every_node_when_no_pod_exists():
    # The DaemonSet controller pins its pod to a node by affinity; nodeName is set only once it is scheduled.
    pending = pod("new-b", None, "u4", ready=False)
    pending["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]
            }
        }
    }
    client = FakeClient([daemonset(), pod("new-a", "a", "u3"), pending])
    with pytest.raises(WaitTimeout, match=r"; nodes without a new ready pod: b$"):
        wait_pods_replaced(client, SPEC, [], {"a": {}, "b": {}, "win-1": {}}, 1)
    # A first install whose pods could not be created at all has no pod to tell where it runs.
    with pytest.raises(WaitTimeout, match=r"; nodes without a new ready pod: a, b$"):
        wait_pods_replaced(FakeClient([daemonset()]), SPEC, [], {"a": {}, "b": {}}, 1)


def test_a_crd_never_established_times_out_naming_it():
    crd = {"kind": "CustomResourceDefinition", "metadata": {"name": "ippools.crd.projectcalico.org"}, "status": {}}
    with pytest.raises(WaitTimeout, match=r"CRD ippools.crd.projectcalico.org was not established within 1s"):
        wait_crd_established(FakeClient([crd]), "ippools.crd.projectcalico.org", timeout=1)


def test_a_daemonset_that_never_rolls_out_times_out_naming_the_nodes_without_a_new_ready_pod():
    old = [pod("old-a", "a", "u1"), pod("old-b", "b", "u2")]
    client = FakeClient(
        [daemonset(numberAvailable=1), old[1], pod("new-a", "a", "u3")],
        events=[("MODIFIED", daemonset(updatedNumberScheduled=1, numberAvailable=1))],
    )
    with pytest.raises(
        WaitTimeout, match=r"^kube-flannel-ds did not finish restarting within 2s; nodes without a new ready pod: b$"
    ):
        wait_pods_replaced(client, SPEC, old, {"a": {}, "b": {}}, 2)
    assert client.requests["WATCH"] == 1  # the pods are not watched before the DaemonSet rolled out


def test_a_timeout_with_a_new_pod_on_every_node_says_old_pods_are_still_terminating():
    terminating = pod("old-a", "a", "u1")
    terminating["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    client = FakeClient(
        [
            daemonset(desiredNumberScheduled=1, updatedNumberScheduled=1, numberAvailable=1),
            terminating,
            pod("new-a", "a", "u3"),
        ]
    )
    with pytest.raises(
        WaitTimeout,
        match=r"^kube-flannel-ds did not finish restarting within 1s; nodes without a new ready pod: "
        r"\(none; old pods still terminating\)$",
    ):
        wait_pods_replaced(client, SPEC, [pod("old-a", "a", "u1")], {"a": {}}, 1)


def test_a_timeout_does_not_name_a_node_the_daemonset_does_not_run_on():
    # kube-flannel-ds runs on kubernetes.io/os=linux nodes only: the Windows node never had nor gets a pod.
    old = [pod("old-a", "a", "u1"), pod("old-b", "b", "u2")]
    client = FakeClient([daemonset(), old[1], pod("new-a", "a", "u3")])
    with pytest.raises(WaitTimeout, match=r"; nodes without a new ready pod: b$"):
        wait_pods_replaced(client, SPEC, old, {"a": {}, "b": {}, "win-1": {}}, 1)


def test_a_crd_whose_established_condition_stays_false_times_out():
    name = "ippools.crd.projectcalico.org"
    crd = {"kind": "CustomResourceDefinition", "metadata": {"name": name}, "status": {}}
    not_yet = {
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "uid": "uid-" + name},
        "status": {
            "conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "False"}]
        },
    }
    client = FakeClient([crd], events=[("MODIFIED", not_yet)])
    with pytest.raises(WaitTimeout, match=r"^CRD ippools.crd.projectcalico.org was not established within 1s; check "):
        wait_crd_established(client, name, timeout=1)
    assert client.requests == {"GET": 0, "LIST": 1, "WATCH": 1, "write": 0, "dry-run": 0}
