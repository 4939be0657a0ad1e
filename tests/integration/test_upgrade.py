"""Upgrading an installed CNI on the real control plane: every supported pair, what survives it (backend, pod CIDR,
MTU, pools, the user's keys and env vars, the image registry, other managers' fields), a cluster installed with
kubectl as upstream's quickstart does, check mode, downgrades, and objects a new version drops. Expectations are
literal object state read with kubectl, and write requests counted in the audit log."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.helpers.ansible import describe_writes
from tests.helpers.cni_cluster import CALICO, FLANNEL_LIKE, POD_CIDR

REGISTRY = "registry.example.com/mirror"
USER_ENV = ("SITE_NOTE", "kept-by-upgrade")
PAIRS = [
    ("flannel", "v0.26.7", "v0.28.9"),
    ("flannel", "v0.27.4", "v0.28.9"),
    ("calico", "v3.26.1", "v3.32.1"),
    ("calico", "v3.29.7", "v3.32.1"),
    ("calico", "v3.30.7", "v3.32.1"),
    ("canal", "v3.26.1", "v3.32.1"),
]
# What each CNI's install is given and must still have after the upgrade, and the switch made after it.
SETTINGS = {
    "flannel": ({"backend": "vxlan", "mtu": 1400}, {"backend": "host-gw", "mtu": None}),
    "canal": ({"backend": "host-gw"}, {"backend": "vxlan"}),
    "calico": (
        {"backend": "vxlan", "encapsulation": "CrossSubnet", "mtu": 1400},
        {"backend": "ipip", "encapsulation": None},
    ),
}


def names(cni):
    return FLANNEL_LIKE.get(cni) or CALICO


def main_container(cni):
    return "kube-flannel" if cni == "flannel" else "calico-node"


def manifest_objects(upstream, cni, version):
    path = upstream / (f"flannel/{version}/kube-flannel.yml" if cni == "flannel" else f"calico/{version}/{cni}.yaml")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def registry_image(image):
    """An upstream image under REGISTRY, as image_registry rewrites it."""
    first, _, rest = image.partition("/")
    return f"{REGISTRY}/{rest if '.' in first else image}"


def containers(daemonset):
    spec = daemonset["spec"]["template"]["spec"]
    return {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}


def set_user_changes(kubectl, cni):
    """What a user does by hand between install and upgrade: an env var (kubectl set env), and for flannel
    networking a key of their own in net-conf.json."""
    namespace, configmap, daemonset, _ = names(cni)
    kubectl.run("set", "env", "-n", namespace, f"daemonset/{daemonset}", "-c", main_container(cni), "=".join(USER_ENV))
    if cni in FLANNEL_LIKE:
        data = kubectl.json("get", "configmap", "-n", namespace, configmap)["data"]
        conf = json.loads(data["net-conf.json"])
        conf["EnableNFTables"] = False
        patch = {"data": {"net-conf.json": json.dumps(conf)}}
        kubectl.run("patch", "configmap", "-n", namespace, configmap, "--type", "merge", "-p", json.dumps(patch))


def assert_upgraded(cluster, upstream, cni, new, settings):
    namespace, configmap, daemonset, _ = names(cni)
    live = cluster.daemonset(namespace, daemonset)
    wanted = manifest_objects(upstream, cni, new)
    wanted_ds = next(o for o in wanted if o["kind"] == "DaemonSet" and o["metadata"]["name"] == daemonset)
    # Every container of the new version and no other, each with the new image under the registry.
    assert set(containers(live)) == set(containers(wanted_ds))
    for name, container in containers(wanted_ds).items():
        assert containers(live)[name]["image"] == registry_image(container["image"])
    # The new version's fields: its args and probes, not the old ones.
    for name, container in containers(wanted_ds).items():
        for field in ("command", "args"):
            assert containers(live)[name].get(field) == container.get(field), (name, field)
    env = {e["name"]: e.get("value") for e in containers(live)[main_container(cni)].get("env", [])}
    assert env[USER_ENV[0]] == USER_ENV[1]
    # Every CRD and RBAC object of the new version exists.
    for obj in wanted:
        if obj["kind"] in ("CustomResourceDefinition", "ClusterRole", "ServiceAccount"):
            args = ["get", obj["kind"].lower(), obj["metadata"]["name"]]
            if obj["metadata"].get("namespace"):
                args += ["-n", obj["metadata"]["namespace"]]
            cluster.kubectl.run(*args)
    data = cluster.configmap(namespace, configmap)
    if cni in FLANNEL_LIKE:
        conf = json.loads(data["net-conf.json"])
        assert conf["Network"] == POD_CIDR
        assert conf["Backend"]["Type"] == settings["backend"]
        assert conf["Backend"].get("MTU") == settings.get("mtu")
        assert conf["EnableNFTables"] is False
    else:
        assert data["calico_backend"] == "vxlan"
        assert cluster.pool()["vxlanMode"] == "CrossSubnet" and cluster.pool()["cidr"] == POD_CIDR
        # The new version's CNI config template (v3.32 dropped the bandwidth plugin).
        wanted_cm = next(o for o in wanted if o["kind"] == "ConfigMap" and o["metadata"]["name"] == configmap)
        assert data["cni_network_config"] == wanted_cm["data"]["cni_network_config"]
        assert data["veth_mtu"] == str(settings["mtu"])


@pytest.mark.parametrize(("cni", "old", "new"), PAIRS, ids=str)
def test_upgrade_keeps_settings_then_switches_and_settles(cluster, audit, kubectl, upstream, cni, old, new):
    settings, switch = SETTINGS[cni]
    base = {"cni": cni, "image_registry": REGISTRY, **settings}
    installed = cluster.module(version=old, **base)
    assert not installed["failed"], installed["msg"]
    assert installed["version"] == old
    set_user_changes(kubectl, cni)
    namespace, _, daemonset, selector = names(cni)
    old_pods = cluster.pod_uids(namespace, selector)

    # Check mode: the plan, and not one write.
    since = audit.offset()
    planned = cluster.module(check=True, diff=True, version=new, **base)
    assert not planned["failed"], planned["msg"]
    assert planned["changed"] and planned["upgrade"]["direction"] == "upgrade"
    assert (planned["upgrade"]["from"], planned["upgrade"]["to"]) == (old, new)
    images = {}
    for version in (old, new):
        ds = next(o for o in manifest_objects(upstream, cni, version) if o["kind"] == "DaemonSet")
        images[version] = registry_image(containers(ds)[main_container(cni)]["image"])
    assert planned["upgrade"]["images"][f"DaemonSet {namespace}/{daemonset}"][main_container(cni)] == (
        f"{images[old]} -> {images[new]}"
    )
    shown = planned["stdout_of_run"].splitlines()  # what --diff shows the user
    assert any(images[old] in line for line in shown if line.startswith("-"))
    assert any(images[new] in line for line in shown if line.startswith("+"))
    if cni != "flannel":  # a CRD's diff is its versions, not thousands of schema lines
        assert "--- before: CustomResourceDefinition ippools.crd.projectcalico.org" in shown
        assert "+schema: changed" in shown and any(line.endswith("- v1 (storage)") for line in shown)
    assert describe_writes(audit.writes_since(since)) == []

    upgraded = cluster.module(version=new, **base)
    assert not upgraded["failed"], upgraded["msg"]
    assert upgraded["changed"] and upgraded["version"] == new
    assert upgraded["upgrade"]["restarted"]
    assert_upgraded(cluster, upstream, cni, new, settings)
    assert old_pods.isdisjoint(cluster.pod_uids(namespace, selector))
    info = cluster.module("cni_info", cni=cni)
    assert (info["version"], info["pinned_version"], info["upgrade_available"]) == (new, new, False)

    # A backend switch on the upgraded cluster, then a run that has nothing to do.
    # None: the option is dropped.
    switch_args = {key: value for key, value in {**base, **switch}.items() if value is not None}
    switched = cluster.module(version=new, **switch_args)
    assert not switched["failed"], switched["msg"]
    assert switched["changed"] and switched["previous_backend"] == settings["backend"]
    assert "upgrade" not in switched
    since = audit.offset()
    again = cluster.module(version=new, **switch_args)
    assert not again["failed"], again["msg"]
    assert not again["changed"]
    assert describe_writes(audit.writes_since(since)) == []


def test_quickstart_install_is_adopted_and_upgraded_and_a_downgrade_is_refused(cluster, audit, kubectl, upstream):
    """Calico v3.26.1 as its quickstart installs it: `kubectl create -f calico.yaml`, no field manager of ours."""
    kubectl.run("create", "-f", str(upstream / "calico/v3.26.1/calico.yaml"))
    info = cluster.module("cni_info", cni="calico")
    assert (info["cni"], info["version"], info["upgrade_available"]) == ("calico", "v3.26.1", True)

    # No version named: the installed one stays, and the result says a newer one is pinned.
    kept = cluster.module(cni="calico")
    assert not kept["failed"], kept["msg"]
    assert kept["version"] == "v3.26.1" and kept["upgrade"] == {"available": "v3.32.1"}

    upgraded = cluster.module(cni="calico", version="v3.32.1")
    assert not upgraded["failed"], upgraded["msg"]
    assert upgraded["version"] == "v3.32.1"
    node = containers(cluster.daemonset("kube-system", "calico-node"))
    # mount-bpffs was v3.26.1's: kubectl create owned it, the upgrade took that over, so it is gone.
    assert "mount-bpffs" not in node and "ebpf-bootstrap" in node
    crd = kubectl.json("get", "crd", "ippools.crd.projectcalico.org", "--show-managed-fields")
    managers = {(e["manager"], e["operation"]) for e in crd["metadata"]["managedFields"] if not e.get("subresource")}
    assert managers == {("kubeforge", "Apply")}
    assert crd["metadata"]["annotations"]["kubeforge.io/origin"] == "adopted"

    since = audit.offset()
    refused = cluster.module(cni="calico", version="v3.26.1")
    assert refused["failed"]
    assert refused["msg"] == (
        "calico v3.32.1 is installed, which is newer than the requested version v3.26.1; cni_config does not "
        "downgrade unless allow_downgrade=true (the newer CRDs and objects stay), or omit version to keep v3.32.1"
    )
    assert describe_writes(audit.writes_since(since)) == []


@pytest.mark.parametrize("installer", ["cni_config", "kubectl"])
def test_dropped_crds_removed_only_when_created_here_and_unused(cluster, kubectl, upstream, installer):
    """v3.32 has no (baseline)adminnetworkpolicies CRDs: the ones this collection created go, one still in use
    stays, and so does every one it did not create; each one left is reported."""
    if installer == "kubectl":
        kubectl.run("create", "-f", str(upstream / "calico/v3.30.7/calico.yaml"))
    else:
        installed = cluster.module(cni="calico", version="v3.30.7")
        assert not installed["failed"], installed["msg"]
    in_use = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "keep-me"},
        "spec": {"priority": 10, "subject": {"namespaces": {}}, "ingress": []},
    }
    kubectl.run("apply", "-f", "-", stdin=json.dumps(in_use))
    upgraded = cluster.module(cni="calico", version="v3.32.1")
    assert not upgraded["failed"], upgraded["msg"]
    crds = {crd["metadata"]["name"] for crd in kubectl.json("get", "crd")["items"]}
    assert "adminnetworkpolicies.policy.networking.k8s.io" in crds
    assert "clusternetworkpolicies.policy.networking.k8s.io" in crds
    if installer == "kubectl":
        assert upgraded["removed"] == []
        assert upgraded["upgrade"]["left"] == [
            "CustomResourceDefinition adminnetworkpolicies.policy.networking.k8s.io (not created by this collection)",
            "CustomResourceDefinition baselineadminnetworkpolicies.policy.networking.k8s.io (not created by this "
            "collection)",
        ]
        assert "baselineadminnetworkpolicies.policy.networking.k8s.io" in crds
        return
    assert upgraded["removed"] == ["CustomResourceDefinition baselineadminnetworkpolicies.policy.networking.k8s.io"]
    assert upgraded["upgrade"]["left"] == [
        "CustomResourceDefinition adminnetworkpolicies.policy.networking.k8s.io (objects of it exist)"
    ]
    assert "baselineadminnetworkpolicies.policy.networking.k8s.io" not in crds
