"""Calico installed by the Tigera operator, on the real control plane: cni_info reads it from the Installation, and
cni_config refuses to write what the operator owns (it would revert the change) or to install beside it.

The operator cannot be built here (its `api` submodule is not served by the Go module proxy), so its Deployment is
a kwok pod that reconciles nothing: the calico-system/calico-node DaemonSet it would create is created by the test,
as the operator names it. Everything else - its CRDs, its manifest, the Installation - is upstream's, unmodified."""

from __future__ import annotations

import json

import yaml

from tests.helpers.ansible import describe_writes
from tests.helpers.cni_cluster import POD_CIDR

OPERATOR = "calico/v3.32.1/operator"


def operator_daemonset():
    labels = {"k8s-app": "calico-node"}
    container = {"name": "calico-node", "image": "quay.io/calico/node:v3.32.1"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": "calico-system"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def install_operator(kubectl, upstream):
    kubectl.run("apply", "--server-side", "-f", str(upstream / OPERATOR / "operator-crds.yaml"))
    kubectl.run("apply", "--server-side", "-f", str(upstream / OPERATOR / "tigera-operator.yaml"))
    kubectl.run("wait", "--for=condition=Established", "crd/installations.operator.tigera.io")
    resources = list(yaml.safe_load_all((upstream / OPERATOR / "custom-resources.yaml").read_text()))
    installation = next(doc for doc in resources if doc and doc["kind"] == "Installation")
    installation["spec"]["calicoNetwork"]["ipPools"][0]["cidr"] = POD_CIDR
    kubectl.run("apply", "-f", "-", stdin=json.dumps(installation))
    kubectl.run("create", "namespace", "calico-system")
    kubectl.run("apply", "-f", "-", stdin=json.dumps(operator_daemonset()))


def test_an_operator_install_is_read_from_its_installation_and_never_written(cluster, audit, kubectl, upstream):
    install_operator(kubectl, upstream)
    info = cluster.module("cni_info", cni="calico")
    assert not info["failed"], info["msg"]
    found = {key: info[key] for key in ("cni", "managed_by", "version", "backend", "encapsulation", "pod_cidr")}
    assert found == {
        "cni": "calico",
        "managed_by": "tigera-operator",
        "version": "v3.32.1",
        "backend": "vxlan",
        "encapsulation": "CrossSubnet",
        "pod_cidr": POD_CIDR,
    }

    since = audit.offset()
    switch = cluster.module(cni="calico", backend="ipip")
    assert switch["failed"]
    assert switch["msg"].startswith(
        "Calico on this cluster is installed by the Tigera operator (DaemonSet calico-system/calico-node): the "
        "operator owns calico-node and the IP pools and reverts changes to them, so cni_config does not write them"
    )
    assert "spec.calicoNetwork.ipPools[].encapsulation" in switch["msg"]
    beside = cluster.module(cni="flannel")
    assert beside["failed"] and "nor install flannel beside it" in beside["msg"]
    assert describe_writes(audit.writes_since(since)) == []
    daemonsets = kubectl.json("get", "daemonset", "-A")["items"]
    assert [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in daemonsets] == [
        ("calico-system", "calico-node")
    ]


def test_an_operator_and_a_manifest_calico_at_once_are_refused(cluster, audit, kubectl, upstream):
    install_operator(kubectl, upstream)
    manifest = operator_daemonset()
    manifest["metadata"]["namespace"] = "kube-system"
    kubectl.run("apply", "-f", "-", stdin=json.dumps(manifest))
    since = audit.offset()
    result = cluster.module(cni="calico")
    assert result["failed"]
    assert result["msg"].startswith(
        "Calico runs twice: the Tigera operator's (DaemonSet calico-system/calico-node) and calico's manifest install "
        "(DaemonSet kube-system/calico-node); remove one of them"
    )
    assert describe_writes(audit.writes_since(since)) == []
