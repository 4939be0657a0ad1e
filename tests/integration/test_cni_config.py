"""cni_config and cni_info on the real control plane: object state after every install and switch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.ansible import describe_writes
from tests.helpers.cluster_state import leave
from tests.helpers.cni_cluster import FLANNEL_LIKE, POD_CIDR, PSK


def assert_one_running_pod_per_node(cluster, namespace, selector):
    pods = cluster.pods(namespace, selector)
    assert sorted(pod["spec"]["nodeName"] for pod in pods) == sorted(cluster.nodes())
    assert {pod["status"]["phase"] for pod in pods} == {"Running"}


def assert_flannel_state(cluster, cni, backend, options=None):
    namespace, _, daemonset, selector = FLANNEL_LIKE[cni]
    conf = cluster.net_conf(cni)
    assert conf["Network"] == POD_CIDR
    assert conf["Backend"]["Type"] == backend
    for key, value in (options or {}).items():
        assert conf["Backend"][key] == value
    container = next(
        c
        for c in cluster.daemonset(namespace, daemonset)["spec"]["template"]["spec"]["containers"]
        if c["name"] == "kube-flannel"
    )
    if cni == "flannel":
        assert bool(container.get("securityContext", {}).get("privileged")) == (backend == "udp")
    assert_one_running_pod_per_node(cluster, namespace, selector)


BIRD_PROBES = (["/bin/calico-node", "-felix-live", "-bird-live"], ["/bin/calico-node", "-felix-ready", "-bird-ready"])
FELIX_PROBES = (["/bin/calico-node", "-felix-live"], ["/bin/calico-node", "-felix-ready"])


def assert_calico_state(cluster, backend, encapsulation="Always"):
    calico_backend = "vxlan" if backend == "vxlan" else "bird"
    assert cluster.configmap("kube-system", "calico-config")["calico_backend"] == calico_backend
    modes = {"ipipMode": "Never", "vxlanMode": "Never"}
    if backend != "bgp":
        modes[f"{backend}Mode"] = encapsulation
    pool = cluster.pool()
    assert {key: pool[key] for key in modes} == modes
    assert pool["cidr"] == POD_CIDR and pool["blockSize"] == 26 and pool["natOutgoing"] is True
    container = cluster.calico_node()
    probes = FELIX_PROBES if backend == "vxlan" else BIRD_PROBES
    assert (container["livenessProbe"]["exec"]["command"], container["readinessProbe"]["exec"]["command"]) == probes
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["CALICO_IPV4POOL_CIDR"] == POD_CIDR
    assert (env["CALICO_IPV4POOL_IPIP"], env["CALICO_IPV4POOL_VXLAN"]) == (modes["ipipMode"], modes["vxlanMode"])
    assert_one_running_pod_per_node(cluster, "kube-system", "k8s-app=calico-node")


NO_OP_READS = 12


def assert_second_run_writes_nothing(cluster, audit, args):
    since = audit.offset()
    again = cluster.module(**args)
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False
    assert again["api_requests"]["write"] == 0
    assert describe_writes(audit.writes_since(since)) == []
    # Issue 12's budget for a no-op: the Calico manifest (the most kinds) in 12 reads, counted by the client.
    requests = again["api_requests"]
    assert requests["GET"] + requests["LIST"] <= NO_OP_READS, requests


FLANNEL_INSTALLS = [
    ({"backend": "vxlan"}, {}),
    (
        {"backend": "vxlan", "vni": 4096, "port": 4789, "direct_routing": True, "gbp": True, "mtu": 1400},
        {"VNI": 4096, "Port": 4789, "DirectRouting": True, "GBP": True, "MTU": 1400},
    ),
    ({"backend": "host-gw"}, {}),
    (
        {"backend": "wireguard", "psk": PSK, "listen_port": 51830, "wireguard_mode": "separate", "mtu": 1380},
        {"PSK": PSK, "ListenPort": 51830, "Mode": "separate", "MTU": 1380},
    ),
    ({"backend": "udp", "port": 8286}, {"Port": 8286}),
]


@pytest.mark.parametrize("cni", ["flannel", "canal"])
@pytest.mark.parametrize(("args", "expected"), FLANNEL_INSTALLS, ids=lambda value: value.get("backend", ""))
def test_install_flannel_networking(cluster, audit, cni, args, expected):
    result = cluster.module(cni=cni, **args)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and result["backend"] == args["backend"] and result["pod_cidr"] == POD_CIDR
    # The WireGuard key never reaches the module's output (or the run's, which is a success here).
    assert PSK not in json.dumps(result)
    assert_flannel_state(cluster, cni, args["backend"], expected)
    assert_second_run_writes_nothing(cluster, audit, {"cni": cni, **args})


@pytest.mark.parametrize(
    ("backend", "encapsulation"),
    [("bgp", None), ("ipip", None), ("ipip", "CrossSubnet"), ("vxlan", None), ("vxlan", "CrossSubnet")],
)
def test_install_calico(cluster, audit, backend, encapsulation):
    args = {"cni": "calico", "backend": backend}
    if encapsulation:
        args["encapsulation"] = encapsulation
    result = cluster.module(**args)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and result["backend"] == backend
    assert "CustomResourceDefinition felixconfigurations.crd.projectcalico.org" in result["created"]
    assert_calico_state(cluster, backend, encapsulation or "Always")
    deployment = cluster.kubectl.json("get", "deployment", "-n", "kube-system", "calico-kube-controllers")
    assert deployment["status"].get("availableReplicas") == 1
    assert_second_run_writes_nothing(cluster, audit, args)


def test_flannel_switch_cycle_keeps_user_keys_and_replaces_every_pod(cluster, audit):
    assert not cluster.module(cni="flannel").get("failed")
    # A key the user added by hand, which cni_config does not own, must survive every switch.
    conf = cluster.net_conf("flannel")
    conf["EnableNFTables"] = True
    cluster.kubectl.run(
        "patch",
        "configmap",
        "-n",
        "kube-flannel",
        "kube-flannel-cfg",
        "--type=merge",
        "-p",
        json.dumps({"data": {"net-conf.json": json.dumps(conf)}}),
    )
    previous = "vxlan"
    for backend, options in [("host-gw", {}), ("wireguard", {"psk": PSK}), ("udp", {}), ("vxlan", {})]:
        before = cluster.pod_uids("kube-flannel", "app=flannel")
        result = cluster.module(cni="flannel", backend=backend, **options)
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] and "ConfigMap kube-flannel/kube-flannel-cfg" in result["updated"]
        assert_flannel_state(cluster, "flannel", backend)
        assert cluster.net_conf("flannel")["EnableNFTables"] is True
        after = cluster.pod_uids("kube-flannel", "app=flannel")
        assert len(after) == len(cluster.nodes()) and not before & after, "every flannel pod must be new"
        stale_devices = {tuple(entry["devices"]) for entry in result["stale_node_state"]}
        expected = {
            "vxlan": ("flannel.1",),
            "wireguard": ("flannel-wg",),
            "udp": ("flannel0",),
            "host-gw": (),
        }[previous]
        assert stale_devices == {expected}
        if previous == "host-gw":
            assert all(len(entry["routes"]) == len(cluster.nodes()) - 1 for entry in result["stale_node_state"])
        previous = backend
    assert_second_run_writes_nothing(cluster, audit, {"cni": "flannel", "backend": "vxlan"})


def test_canal_switch_replaces_every_canal_pod(cluster, audit):
    assert not cluster.module(cni="canal").get("failed")
    before = cluster.pod_uids("kube-system", "k8s-app=canal")
    result = cluster.module(cni="canal", backend="wireguard", psk=PSK)
    assert not result.get("failed"), result.get("msg")
    assert "ConfigMap kube-system/canal-config" in result["updated"]
    assert_flannel_state(cluster, "canal", "wireguard", {"PSK": PSK})
    assert not before & cluster.pod_uids("kube-system", "k8s-app=canal")
    assert {tuple(entry["devices"]) for entry in result["stale_node_state"]} == {("flannel.1",)}
    assert_second_run_writes_nothing(cluster, audit, {"cni": "canal", "backend": "wireguard", "psk": PSK})


def write_order(events):
    return [
        f"{e['objectRef']['resource']}/{e['objectRef']['name']}"
        for e in events
        if e["verb"] == "patch" and e["objectRef"].get("resource") in ("ippools", "configmaps", "daemonsets")
    ]


def test_calico_switch_cycle_in_calicos_order(cluster, audit):
    assert not cluster.module(cni="calico", backend="bgp").get("failed")
    steps = [
        ("ipip", None),
        ("vxlan", None),
        ("bgp", None),
        ("ipip", "CrossSubnet"),
        ("vxlan", "CrossSubnet"),
        ("bgp", None),
    ]
    previous = "bgp"
    for backend, encapsulation in steps:
        args = {"cni": "calico", "backend": backend}
        if encapsulation:
            args["encapsulation"] = encapsulation
        before = cluster.pod_uids("kube-system", "k8s-app=calico-node")
        since = audit.offset()
        result = cluster.module(**args)
        assert not result.get("failed"), result.get("msg")
        assert result["changed"]
        assert_calico_state(cluster, backend, encapsulation or "Always")
        assert len(result["restarted"]) == len(cluster.nodes())
        after = cluster.pod_uids("kube-system", "k8s-app=calico-node")
        assert len(after) == len(cluster.nodes()) and not before & after, "every calico-node pod must be new"
        if (previous, backend) == ("bgp", "ipip"):  # +20 bytes of IP-in-IP: running pods keep the larger MTU
            assert any(
                name.startswith("kube-system/calico-kube-controllers-") for name in result["workloads_to_restart"]
            )
        order = write_order(audit.writes_since(since))
        pool, config, daemonset = ("ippools/default-ipv4-ippool", "configmaps/calico-config", "daemonsets/calico-node")
        if previous == "vxlan":  # BIRD must run on every node before a pool needs it
            assert order.index(daemonset) < order.index(pool) and order.index(config) < order.index(pool), order
        elif backend == "vxlan":  # the pool first, then BIRD off
            assert order.index(pool) < order.index(config) < order.index(daemonset), order
        previous = backend
    assert_second_run_writes_nothing(cluster, audit, {"cni": "calico", "backend": "bgp"})


# Flannel installed once for the three tests that need it (flannel_cluster), then two that leave a fresh
# cluster for the next test (fresh_cluster).
def test_check_mode_changes_nothing_and_shows_the_diff(flannel_cluster, audit):
    cluster = flannel_cluster
    refs = [("configmap", "kube-flannel", "kube-flannel-cfg"), ("daemonset", "kube-flannel", "kube-flannel-ds")]
    versions = cluster.resource_versions(*refs)
    uids = cluster.pod_uids("kube-flannel", "app=flannel")
    since = audit.offset()
    result = cluster.module(cni="flannel", backend="host-gw", check=True, diff=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    shown = result["stdout_of_run"]  # what --diff shows the user
    assert "--- before: ConfigMap kube-flannel/kube-flannel-cfg" in shown
    changed_lines = [line.replace(" ", "") for line in shown.splitlines() if line[:1] in "+-"]
    assert '-"Type":"vxlan"' in changed_lines and '+"Type":"host-gw"' in changed_lines
    assert "kubeforge.io/config-hash" in shown
    assert result["api_requests"]["write"] == 0 and result["api_requests"]["dry-run"] >= 2
    assert cluster.resource_versions(*refs) == versions
    assert cluster.pod_uids("kube-flannel", "app=flannel") == uids
    assert describe_writes(audit.writes_since(since)) == []
    leave(cluster.local, "flannel")


BAD_INPUTS = [
    ({"cni": "calico"}, "flannel is installed (DaemonSet kube-flannel/kube-flannel-ds)"),
    ({"cni": "flannel", "backend": "bgp"}, "not a backend of flannel (that is a backend of calico)"),
    ({"cni": "calico", "calico_backend": "ipip"}, "calico_backend: ipip is not a Calico value"),
    ({"cni": "flannel", "pod_cidr": "10.99.0.0/16"}, "is a migration"),
    ({"cni": "flannel", "pod_cidr": "10.244.0.0/33"}, "is not a network CIDR"),
    ({"cni": "flannel", "backend": "host-gw", "vni": 2}, "option vni does not apply to flannel backend host-gw"),
    ({"cni": "flannel", "backend": "wireguard", "psk": "not-a-key"}, "generate one with `wg genpsk`"),
    ({"cni": "flannel", "manifest_sha256": "0" * 64}, "not the expected 000000"),
    ({"cni": "flannel", "encapsulation": "Always"}, "encapsulation applies to Calico"),
]


def test_bad_input_fails_with_its_message_and_changes_nothing(flannel_cluster, audit):
    cluster = flannel_cluster
    refs = [("configmap", "kube-flannel", "kube-flannel-cfg"), ("daemonset", "kube-flannel", "kube-flannel-ds")]
    versions = cluster.resource_versions(*refs)
    since = audit.offset()
    for args, message in BAD_INPUTS:
        result = cluster.module(**args)
        assert result.get("failed"), args
        assert message in result["msg"], (args, result["msg"])
        # Only the module's own result: ad-hoc `ansible` echoes the command line's arguments on failure.
        assert "not-a-key" not in json.dumps({k: v for k, v in result.items() if not k.endswith("_of_run")})
    assert describe_writes(audit.writes_since(since)) == []
    assert cluster.resource_versions(*refs) == versions
    leave(cluster.local, "flannel")


def test_flannel_warns_that_networkpolicies_are_not_enforced_and_verify_will_not_pretend(flannel_cluster):
    cluster = flannel_cluster
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-ingress", "namespace": "default"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    cluster.kubectl.run("apply", "-f", "-", stdin=json.dumps(policy))
    try:
        info = cluster.module("cni_info", cni="flannel")
        config = cluster.module(cni="flannel")
        verify = cluster.module("cni_verify", timeout=60)
    finally:
        cluster.kubectl.run("delete", "networkpolicy", "-n", "default", "deny-ingress")
    for result in (info, config):
        assert not result["failed"], result.get("msg")
        shown = " ".join((result["stdout_of_run"] + result["stderr_of_run"]).split())
        assert "1 NetworkPolicy object exists in default (1), but Flannel does not enforce NetworkPolicy" in shown
        assert "Install Canal" in shown
    assert config["api_requests"]["write"] == 0
    # kwok's nodes carry no packets: cni_verify says it cannot verify, never that the network works.
    assert not verify["failed"] and verify["verified"] is False and verify["changed"] is False
    assert "kwok's fake nodes" in verify["reason"] and verify["pairs"] == []
    assert cluster.kubectl.json("get", "namespaces", "-l", "app.kubernetes.io/name=cni-verify")["items"] == []
    leave(cluster.local, "flannel")


def test_malformed_live_net_conf_and_unreachable_server_fail_cleanly(flannel_cluster, audit, tmp_path):
    cluster = flannel_cluster
    cluster.kubectl.run(
        "patch",
        "configmap",
        "-n",
        "kube-flannel",
        "kube-flannel-cfg",
        "--type=merge",
        "-p",
        json.dumps({"data": {"net-conf.json": "{broken"}}),
    )
    versions = cluster.resource_versions(("daemonset", "kube-flannel", "kube-flannel-ds"))
    since = audit.offset()
    result = cluster.module(cni="flannel", backend="host-gw")
    assert result.get("failed") and "net-conf.json is not valid JSON" in result["msg"]
    assert describe_writes(audit.writes_since(since)) == []
    assert cluster.resource_versions(("daemonset", "kube-flannel", "kube-flannel-ds")) == versions
    unreachable = tmp_path / "kubeconfig"
    unreachable.write_text(
        Path(cluster.kubeconfig).read_text().replace("https://127.0.0.1:16443", "https://127.0.0.1:1")
    )
    result = cluster.module(cni="flannel", kubeconfig=str(unreachable))
    assert result.get("failed") and "cannot reach the API server at https://127.0.0.1:1" in result["msg"]


def test_check_mode_install_creates_nothing(cluster, fresh_cluster, audit):
    since = audit.offset()
    result = cluster.module(cni="calico", check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and "DaemonSet kube-system/calico-node" in result["created"]
    assert describe_writes(audit.writes_since(since)) == []
    assert cluster.kubectl.run("get", "daemonset", "-n", "kube-system", "calico-node", check=False).returncode != 0
    leave(fresh_cluster, "fresh")


def test_calico_pod_cidr_that_disagrees_with_kubeadm_is_refused(cluster, fresh_cluster, audit):
    since = audit.offset()
    result = cluster.module(cni="calico", pod_cidr="192.168.0.0/16")
    assert result.get("failed")
    assert "disagrees with kubeadm-config ClusterConfiguration networking.podSubnet (10.244.0.0/16)" in result["msg"]
    assert describe_writes(audit.writes_since(since)) == []
    leave(fresh_cluster, "fresh")


def test_install_from_the_release_asset_is_adopted_and_switched(cluster, audit, upstream):
    cluster.kubectl.run("apply", "--server-side", "-f", str(upstream / "flannel/v0.28.9/kube-flannel-release.yml"))
    cluster.kubectl.run("rollout", "status", "-n", "kube-flannel", "daemonset/kube-flannel-ds", "--timeout=120s")
    selector = cluster.daemonset("kube-flannel", "kube-flannel-ds")["spec"]["selector"]
    assert selector == {"matchLabels": {"app": "flannel", "k8s-app": "flannel"}}
    adopted = cluster.module(cni="flannel")
    assert not adopted.get("failed"), adopted.get("msg")
    assert adopted["created"] == []
    before = cluster.pod_uids("kube-flannel", "app=flannel")
    switched = cluster.module(cni="flannel", backend="host-gw")
    assert not switched.get("failed"), switched.get("msg")
    assert_flannel_state(cluster, "flannel", "host-gw")
    assert cluster.daemonset("kube-flannel", "kube-flannel-ds")["spec"]["selector"] == selector
    assert not before & cluster.pod_uids("kube-flannel", "app=flannel")
    assert_second_run_writes_nothing(cluster, audit, {"cni": "flannel", "backend": "host-gw"})


def test_calico_3_26_installs_and_switches(cluster, audit):
    result = cluster.module(cni="calico", version="v3.26.1", backend="ipip")
    assert not result.get("failed"), result.get("msg")
    assert result["version"] == "v3.26.1"
    assert_calico_state(cluster, "ipip")
    switched = cluster.module(cni="calico", version="v3.26.1", backend="vxlan", encapsulation="CrossSubnet")
    assert not switched.get("failed"), switched.get("msg")
    assert_calico_state(cluster, "vxlan", "CrossSubnet")
    assert_second_run_writes_nothing(
        cluster, audit, {"cni": "calico", "version": "v3.26.1", "backend": "vxlan", "encapsulation": "CrossSubnet"}
    )


def test_image_registry_override_and_cni_info(cluster):
    result = cluster.module(
        cni="calico", backend="vxlan", encapsulation="CrossSubnet", image_registry="registry.example.com/mirror"
    )
    assert not result.get("failed"), result.get("msg")
    images = [
        c["image"]
        for c in cluster.daemonset("kube-system", "calico-node")["spec"]["template"]["spec"]["initContainers"]
        + [cluster.calico_node()]
    ]
    assert images and all(image.startswith("registry.example.com/mirror/calico/") for image in images), images
    info = cluster.module("cni_info", cni="calico", backend="bgp")
    assert not info.get("failed"), info.get("msg")
    assert (info["cni"], info["backend"], info["encapsulation"], info["version"]) == (
        "calico",
        "vxlan",
        "CrossSubnet",
        "v3.32.1",
    )
    assert info["pod_cidr"] == info["kubeadm_pod_subnet"] == POD_CIDR
    assert set(info["node_pod_cidrs"]) == cluster.nodes()
    assert info["pods_run_current_config"] is True
    assert info["drift"] == [{"field": "backend", "wanted": "bgp", "live": "vxlan"}]
    assert info["changed"] is False and info["api_requests"]["write"] == 0
