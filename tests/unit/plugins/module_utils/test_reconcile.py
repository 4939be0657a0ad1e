"""The writer: minimal merge patches, conflicts retried on fresh state, nothing sent when nothing differs."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import ApiError
from ansible_collections.kubeforge.cluster.plugins.module_utils.reconcile import Writer, merge_patch, pick_values

from .fake_client import FakeClient


def configmap(version, data):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n", "resourceVersion": version},
        "data": data,
    }


def test_merge_patch_is_minimal_and_none_when_equal():
    live = {"a": 1, "b": {"c": 2, "d": [1, 2]}, "gone": True}
    desired = {"a": 1, "b": {"c": 3, "d": [1, 2]}, "new": "x"}
    assert merge_patch(live, desired) == {"b": {"c": 3}, "new": "x", "gone": None}
    assert merge_patch(live, live) is None
    assert pick_values(live, {"b": {"c": 3}}) == {"b": {"c": 2}}


def test_a_conflict_is_retried_on_fresh_state_keeping_the_other_writers_change():
    read = configmap("1", {"mine": "old"})
    # Another writer added a key after our read: the server has moved on to resourceVersion 2.
    client = FakeClient([configmap("2", {"mine": "old", "theirs": "kept"})])
    writer = Writer(client)
    _result, changed = writer.ensure(
        read,
        lambda current: {**current, "data": {**current["data"], "mine": "new"}},
        lambda: client.get("v1", "ConfigMap", "c", "n"),
    )
    assert changed
    assert client.patches == [{"data": {"mine": "new"}, "metadata": {"resourceVersion": "2"}}]
    assert writer.updated == ["ConfigMap n/c"]


def test_conflicts_used_up_fail_naming_the_object():
    client = FakeClient([configmap("9", {"k": "v"})])
    writer = Writer(client)
    stale = configmap("1", {"k": "v"})
    with pytest.raises(ApiError, match=r"ConfigMap n/c kept changing under us \(5 conflicts\); run again"):
        writer.ensure(stale, lambda current: {**current, "data": {"k": "new"}}, lambda: stale)
    assert client.patches == [] and writer.updated == []


def test_an_unchanged_object_sends_no_patch():
    live = configmap("1", {"k": "v"})
    client = FakeClient([live])
    writer = Writer(client)
    assert writer.ensure(live, lambda current: current, lambda: live) == (live, False)
    assert client.patches == [] and not writer.changed


def test_check_mode_patches_as_a_dry_run_and_shows_the_diff():
    live = configmap("1", {"k": "v"})
    client = FakeClient([live])
    writer = Writer(client, check_mode=True)
    writer.ensure(live, lambda current: {**current, "data": {"k": "w"}}, lambda: live)
    assert client.requests["dry-run"] == 1 and client.requests["write"] == 0
    assert writer.diff == [
        {
            "before_header": "ConfigMap n/c",
            "after_header": "ConfigMap n/c",
            "before": "data:\n  k: v\n",
            "after": "data:\n  k: w\n",
        }
    ]
