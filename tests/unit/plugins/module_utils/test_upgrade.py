"""A version change as pure decisions: its direction or refusal, what of the old install is carried, whose fields an
upgrade takes over, which objects were created here and which ones a new version drops."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.upgrade import (
    ORIGIN,
    carried_env,
    carried_settings,
    crd_summary,
    created_here,
    dropped_objects,
    image_changes,
    keep_selector,
    owner_reference_note,
    release,
    taken_over,
    version_change,
)


def daemonset(env=None, image="quay.io/calico/node:v3.26.1", name="calico-node", selector=None):
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": selector or {"k8s-app": "calico-node"}},
            "template": {
                "metadata": {"labels": dict(selector or {"k8s-app": "calico-node"})},
                "spec": {"containers": [{"name": name, "image": image, "env": list(env or [])}]},
            },
        },
    }


def test_release_tags_compare_as_numbers():
    assert release("v3.9.0") < release("v3.10.0")
    assert release("latest") is None and release("v3.26.1-rc1") is None and release(None) is None


@pytest.mark.parametrize(
    ("installed", "requested", "given", "allow", "expected"),
    [
        (None, "v3.32.1", True, False, None),  # an install
        ("v3.26.1", "v3.32.1", False, False, None),  # no version named: the installed one stays
        ("v3.32.1", "v3.32.1", True, False, None),
        ("v3.26.1", "v3.32.1", True, False, ("upgrade", "v3.26.1", "v3.32.1")),
        ("v3.32.1", "v3.26.1", True, True, ("downgrade", "v3.32.1", "v3.26.1")),
        ("latest", "v3.32.1", True, True, ("replace", "latest", "v3.32.1")),
    ],
)
def test_version_change(installed, requested, given, allow, expected):
    assert version_change("calico", installed, requested, given, allow) == expected


def test_a_downgrade_is_refused_naming_both_versions_and_the_way_out():
    with pytest.raises(InputError) as error:
        version_change("flannel", "v0.28.9", "v0.26.7", True, False)
    assert str(error.value) == (
        "flannel v0.28.9 is installed, which is newer than the requested version v0.26.7; cni_config does not "
        "downgrade unless allow_downgrade=true (the newer CRDs and objects stay), or omit version to keep v0.28.9"
    )


def test_a_change_from_a_tag_that_is_no_release_is_refused():
    with pytest.raises(InputError, match="runs image tag 'latest', which is not a release"):
        version_change("flannel", "latest", "v0.28.9", True, False)


def test_configmap_settings_stay_templates_renew_and_hand_changes_are_kept():
    live = {"net-conf.json": "mine", "cni-conf.json": "old template", "cni_network_config": "edited", "extra": "x"}
    new = {"net-conf.json": "upstream new", "cni-conf.json": "new template", "cni_network_config": "new cni"}
    old = {"net-conf.json": "upstream old", "cni-conf.json": "old template", "cni_network_config": "old cni"}
    data, kept = carried_settings(live, new, old, ("net-conf.json",))
    assert data == {
        "net-conf.json": "mine",
        "cni-conf.json": "new template",
        "cni_network_config": "edited",
        "extra": "x",
    }
    assert kept == ["cni_network_config"]
    # Without the old version's manifest a hand change cannot be told from upstream's: the new template wins.
    data, kept = carried_settings(live, new, None, ("net-conf.json",))
    assert data["cni_network_config"] == "new cni" and kept == []


def test_env_the_user_set_is_carried_upstream_values_and_managed_ones_are_not():
    node_name = {"name": "NODENAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    old = daemonset([node_name, {"name": "FELIX_LOGSEVERITYSCREEN", "value": "info"}, {"name": "GONE", "value": "1"}])
    live = daemonset(
        [
            # as upstream, but with the default the API server adds
            {"name": "NODENAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
            {"name": "FELIX_LOGSEVERITYSCREEN", "value": "debug"},  # changed by hand
            {"name": "GONE", "value": "1"},  # upstream's, dropped by the new version
            {"name": "IP_AUTODETECTION_METHOD", "value": "cidr=10.0.0.0/8"},  # added by hand
            {"name": "CALICO_IPV4POOL_CIDR", "value": "10.244.0.0/16"},  # the driver's
        ]
    )
    new = daemonset(
        [node_name, {"name": "FELIX_LOGSEVERITYSCREEN", "value": "info"}], image="quay.io/calico/node:v3.32.1"
    )
    carried = carried_env(live, new, old, managed=("CALICO_IPV4POOL_CIDR",))
    assert carried == ["calico-node FELIX_LOGSEVERITYSCREEN", "calico-node IP_AUTODETECTION_METHOD"]
    assert new["spec"]["template"]["spec"]["containers"][0]["env"] == [
        node_name,
        {"name": "FELIX_LOGSEVERITYSCREEN", "value": "debug"},
        {"name": "IP_AUTODETECTION_METHOD", "value": "cidr=10.0.0.0/8"},
    ]
    assert carried_env(live, daemonset(), None) == []


def test_the_live_selector_is_kept_with_the_labels_it_selects():
    live = daemonset(selector={"app": "flannel", "k8s-app": "flannel"})
    new = keep_selector(daemonset(selector={"app": "flannel"}), live)
    assert new["spec"]["selector"] == {"matchLabels": {"app": "flannel", "k8s-app": "flannel"}}
    assert new["spec"]["template"]["metadata"]["labels"] == {"app": "flannel", "k8s-app": "flannel"}


def entry(manager, operation, fields, subresource=None):
    found = {"manager": manager, "operation": operation, "apiVersion": "v1", "fieldsType": "FieldsV1"}
    found["fieldsV1"] = fields
    if subresource:
        found["subresource"] = subresource
    return found


def test_the_installers_fields_are_taken_over_and_others_kept():
    managed = [
        entry("kubectl-create", "Update", {"f:data": {"f:a": {}, "f:b": {}}}),
        entry("kubeforge", "Update", {"f:data": {"f:c": {}}}),
        entry("kubectl-edit", "Update", {"f:data": {"f:d": {}}}),
        entry("kube-apiserver", "Update", {"f:status": {}}, subresource="status"),
    ]
    merged = taken_over(managed)
    assert merged[0] == {
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}, "f:c": {}}},
        "manager": "kubeforge",
        "operation": "Apply",
    }
    assert merged[1:] == managed[2:]
    assert taken_over([entry("kubeforge", "Apply", {"f:data": {}}), managed[2]]) is None


def test_created_here_by_the_mark_or_by_an_apply_of_ours_alone():
    def obj(annotations=None, managers=()):
        meta = {"name": "x", "annotations": annotations or {}}
        meta["managedFields"] = [entry(m, op, {}) for m, op in managers]
        return {"metadata": meta}

    assert created_here(obj({ORIGIN: "created"}))
    assert not created_here(obj({ORIGIN: "adopted"}, [("kubeforge", "Apply")]))
    assert created_here(obj(managers=[("kubeforge", "Apply"), ("kube-apiserver", "Update")]))
    assert not created_here(obj(managers=[("kubectl-create", "Update"), ("kubeforge", "Apply")]))
    assert not created_here(obj(managers=[("kubectl-client-side-apply", "Update")]))


def crd(name, versions):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {"versions": versions},
    }


def test_dropped_objects_and_crd_summaries():
    old = [crd("a.x", []), crd("b.x", []), daemonset()]
    new = [crd("b.x", []), daemonset(), crd("c.x", [])]
    assert [o["metadata"]["name"] for o in dropped_objects(old, new)] == ["a.x"]
    versions = [{"name": "v1", "served": True, "storage": True}, {"name": "v1alpha1", "served": False}]
    assert crd_summary(crd("a.x", versions)) == ["v1 (storage)", "v1alpha1 (not served)"]


def test_image_changes_name_new_and_removed_containers():
    live = daemonset(image="docker.io/calico/node:v3.26.1")
    new = daemonset(image="quay.io/calico/node:v3.32.1", name="ebpf-bootstrap")
    new["spec"]["template"]["spec"]["containers"].append(
        {"name": "calico-node", "image": "quay.io/calico/node:v3.32.1"}
    )
    assert image_changes(live, new) == {
        "ebpf-bootstrap": "(new container) -> quay.io/calico/node:v3.32.1",
        "calico-node": "docker.io/calico/node:v3.26.1 -> quay.io/calico/node:v3.32.1",
    }
    assert image_changes(new, new) == {}
    live["spec"]["template"]["spec"]["containers"].append({"name": "mount-bpffs", "image": "old"})
    assert image_changes(live, new)["mount-bpffs"] == "old -> (removed)"


def test_the_owner_reference_note_only_where_calico_crosses_v3_28():
    assert "crosses Calico v3.28" in owner_reference_note("calico", "v3.26.1", "v3.32.1")
    assert owner_reference_note("canal", "v3.29.7", "v3.32.1") is None
    assert owner_reference_note("flannel", "v0.26.7", "v0.28.9") is None
