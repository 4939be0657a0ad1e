"""cni_verify's pure core (pairs, the checks per address family, the probe pods and script, their output, the
failure message), the NetworkPolicy warning, and the runs that must not probe: kwok's fake nodes and check mode."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import verify
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.netpol import (
    networkpolicy_warning,
    unenforced_networkpolicy_warning,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.verify_run import Verifier

from .fake_client import FakeClient


def names(count):
    return [f"n{i:02d}" for i in range(count)]


# -- pairs -----------------------------------------------------------------------------------------------------


def test_all_ordered_pairs_when_they_fit():
    pairs, total = verify.sample_pairs(["b", "a", "c"], 50)
    assert total == 6
    assert pairs == [("a", "b"), ("a", "c"), ("b", "a"), ("b", "c"), ("c", "a"), ("c", "b")]


@pytest.mark.parametrize(("count", "max_pairs"), [(8, 50), (20, 50), (100, 50), (30, 29), (11, 109)])
def test_a_sample_is_bounded_and_covers_every_node_as_source_and_target(count, max_pairs):
    nodes = names(count)
    pairs, total = verify.sample_pairs(nodes, max_pairs)
    assert total == count * (count - 1)
    assert len(pairs) <= max(max_pairs, count)
    assert len(set(pairs)) == len(pairs)
    assert all(source != target for source, target in pairs)
    assert {s for s, _ in pairs} == set(nodes) == {t for _, t in pairs}
    # whole rotations: every node is a source and a target equally often
    assert len({sum(1 for s, _ in pairs if s == n) for n in nodes}) == 1
    assert len({sum(1 for _, t in pairs if t == n) for n in nodes}) == 1


def test_a_sample_of_8_nodes_takes_6_rotations():
    pairs, total = verify.sample_pairs(names(8), 50)
    assert (len(pairs), total) == (48, 56)


def test_max_pairs_below_the_node_count_still_probes_every_node():
    pairs, _total = verify.sample_pairs(names(5), 2)
    assert pairs == [("n00", "n01"), ("n01", "n02"), ("n02", "n03"), ("n03", "n04"), ("n04", "n00")]


def test_one_node_has_no_pairs():
    assert verify.sample_pairs(["a"], 50) == ([], 0)


# -- nodes and pods --------------------------------------------------------------------------------------------


def node(name, fake=False, ready=True):
    annotations = {verify.KWOK_ANNOTATION: "fake"} if fake else {}
    return {
        "kind": "Node",
        "metadata": {"name": name, "annotations": annotations},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_kwok_nodes_are_fake():
    assert verify.is_fake_node(node("a", fake=True))
    assert not verify.is_fake_node(node("a"))
    assert not verify.node_ready(node("a", ready=False))


def test_target_pod_runs_agnhost_netexec_pinned_to_its_node_on_every_taint():
    pod = verify.target_pod("ns", "kf-node-2", 1, "img:1", "Never")
    spec = pod["spec"]
    assert pod["metadata"]["name"] == "target-kf-node-2"
    assert pod["metadata"]["labels"] == dict(verify.NAMESPACE_LABELS, role="target")
    assert spec["nodeName"] == "kf-node-2"
    assert spec["tolerations"] == [{"operator": "Exists"}]
    container = spec["containers"][0]
    assert container["command"] == ["/agnhost", "netexec", "--http-port=8080"]
    assert (container["image"], container["imagePullPolicy"]) == ("img:1", "Never")
    assert container["readinessProbe"]["httpGet"]["port"] == 8080


def test_probers_get_the_targets_as_arguments_and_exit():
    pod = verify.prober_pod(
        "ns", "a", 0, "img", "IfNotPresent", [(1, "10.244.1.5"), (2, "10.244.2.7")], "10.96.0.9", False, 3
    )
    container = pod["spec"]["containers"][0]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert "hostNetwork" not in pod["spec"]
    assert container["command"][:2] == ["sh", "-c"]
    assert container["command"][3:] == ["probe", "10.96.0.9", "1=10.244.1.5", "2=10.244.2.7"]
    assert {"name": "MTU_CHECK", "value": "1"} in container["env"]
    host = verify.prober_pod("ns", "a", 0, "img", "IfNotPresent", [(1, "10.244.1.5")], None, True, 3)
    assert host["metadata"]["name"] == "host-a"
    assert host["spec"]["hostNetwork"] is True
    assert host["spec"]["containers"][0]["command"][3:] == ["probe", "-", "1=10.244.1.5"]
    assert {"name": "MTU_CHECK", "value": "0"} in host["spec"]["containers"][0]["env"]


def test_a_very_long_node_name_gives_an_index_name():
    assert verify.pod_name("prober", "x" * 250, 7) == "prober-7"


def test_the_namespace_is_labelled_and_allows_host_network():
    labels = verify.namespace_object("kubeforge-verify")["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "kubeforge"
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


def test_the_script_uses_only_applets_of_both_busyboxes():
    # agnhost (Alpine busybox) and the test bed's busybox-static both have these; `wget -T` crashes busybox 1.35.
    script = verify.PROBE_SCRIPT
    assert "wget -T" not in script and "-T " not in script
    for needed in ("ping -c 1 -W 3 -s", "timeout 5 wget", "cat /sys/class/net/eth0/mtu"):
        assert needed in script


# -- address families ------------------------------------------------------------------------------------------


def target(node_name, pod_ips, host_ips):
    """A ready target pod as the kubelet reports it: podIP/hostIP are the first of podIPs/hostIPs."""
    return {
        "metadata": {"name": "target-" + node_name},
        "spec": {"nodeName": node_name},
        "status": {
            "podIP": pod_ips[0],
            "podIPs": [{"ip": ip} for ip in pod_ips],
            "hostIP": host_ips[0],
            "hostIPs": [{"ip": ip} for ip in host_ips],
        },
    }


DUAL = {
    "a": target("a", ["10.244.0.5", "fd00:10:244::5"], ["198.18.0.10", "fd00:198:18::10"]),
    "b": target("b", ["10.244.1.7", "fd00:10:244:1::7"], ["198.18.0.11", "fd00:198:18::11"]),
}


def test_addresses_by_family_take_the_first_of_each_family_ipv4_first():
    assert verify.addresses_by_family(["fd00::1", "10.0.0.1", "10.0.0.2", None]) == {
        "IPv4": "10.0.0.1",
        "IPv6": "fd00::1",
    }
    assert list(verify.addresses_by_family(["fd00::1", "10.0.0.1"])) == ["IPv4", "IPv6"]
    assert verify.ip_family("::ffff:10.0.0.1") == "IPv6"


def test_pod_and_host_addresses_fall_back_to_the_single_fields():
    pod = {"status": {"podIP": "10.244.0.5", "hostIP": "198.18.0.10"}}  # a kubelet without podIPs/hostIPs
    assert verify.pod_addresses(pod) == {"IPv4": "10.244.0.5"}
    assert verify.host_addresses(pod) == {"IPv4": "198.18.0.10"}
    assert verify.pod_addresses(DUAL["b"]) == {"IPv4": "10.244.1.7", "IPv6": "fd00:10:244:1::7"}
    assert verify.host_addresses(DUAL["b"]) == {"IPv4": "198.18.0.11", "IPv6": "fd00:198:18::11"}


def test_a_single_stack_plan_is_one_check_per_pair_and_path():
    targets = {"a": target("a", ["10.244.0.5"], ["198.18.0.10"]), "b": target("b", ["10.244.1.7"], ["198.18.0.11"])}
    plan = verify.probe_plan([("a", "b"), ("b", "a")], targets)
    assert plan == {
        ("a", False): [("b", "IPv4", "10.244.1.7", None)],
        ("a", True): [("b", "IPv4", "10.244.1.7", None)],
        ("b", False): [("a", "IPv4", "10.244.0.5", None)],
        ("b", True): [("a", "IPv4", "10.244.0.5", None)],
    }


def test_a_dual_stack_plan_checks_each_family_ipv4_first():
    plan = verify.probe_plan([("a", "b"), ("b", "a")], DUAL)
    for host_network in (False, True):
        assert plan[("a", host_network)] == [
            ("b", "IPv4", "10.244.1.7", None),
            ("b", "IPv6", "fd00:10:244:1::7", None),
        ]
        assert [address for _, _, address, _ in plan[("b", host_network)]] == ["10.244.0.5", "fd00:10:244::5"]


def test_a_host_without_an_ipv6_address_skips_host_to_pod_over_ipv6_only():
    targets = dict(DUAL, a=target("a", ["10.244.0.5", "fd00:10:244::5"], ["198.18.0.10"]))
    plan = verify.probe_plan([("a", "b"), ("b", "a")], targets)
    assert plan[("a", True)] == [
        ("b", "IPv4", "10.244.1.7", None),
        ("b", "IPv6", None, "the host network of a has no IPv6 address"),
    ]
    assert plan[("a", False)][1] == ("b", "IPv6", "fd00:10:244:1::7", None)  # its pods have IPv6
    assert plan[("b", True)][1] == ("a", "IPv6", "fd00:10:244::5", None)  # b's host reaches a's pods


def test_a_target_without_an_ipv6_address_is_skipped_over_ipv6_from_everywhere():
    targets = dict(DUAL, b=target("b", ["10.244.1.7"], ["198.18.0.11", "fd00:198:18::11"]))
    plan = verify.probe_plan([("a", "b"), ("b", "a")], targets)
    for host_network in (False, True):
        assert plan[("a", host_network)][1] == ("b", "IPv6", None, "the pods of b have no IPv6 address")
    # b's own pods have no IPv6 address either, so b's pod prober cannot send any; its host can
    assert plan[("b", False)][1] == ("a", "IPv6", None, "the pods of b have no IPv6 address")
    assert plan[("b", True)][1] == ("a", "IPv6", "fd00:10:244::5", None)


# -- output ----------------------------------------------------------------------------------------------------

LOG = """\
{"kind":"self","mtu":1450}
{"kind":"pair","target":2,"family":"IPv4","icmp":true,"rtt_ms":0.412,"tcp":true,"mtu":false,"payload":1422}
ping: sendto: some noise
{"kind":"pair","target":1,"family":"IPv4","icmp":false,"rtt_ms":null,"tcp":false,"mtu":false,"payload":1422}
{"kind":"service","succeeded":2,"attempts":3}
{"kind":"done"}
"""

# A dual-stack prober's log: its lines come in the order the parallel checks end.
DUAL_LOG = """\
{"kind":"self","mtu":1450}
{"kind":"pair","target":1,"family":"IPv6","icmp":true,"rtt_ms":0.5,"tcp":false,"mtu":false,"payload":1402}
{"kind":"pair","target":1,"family":"IPv4","icmp":true,"rtt_ms":0.4,"tcp":true,"mtu":true,"payload":1422}
{"kind":"done"}
"""


def test_parse_probe_log():
    found = verify.parse_probe_log(LOG)
    assert found["mtu"] == 1450 and found["done"] is True
    assert found["service"] == {"kind": "service", "succeeded": 2, "attempts": 3}
    assert found["pairs"][(2, "IPv4")]["rtt_ms"] == 0.412
    assert verify.parse_probe_log("{broken\n")["done"] is False


def test_parse_probe_log_keeps_each_family_of_a_target_apart():
    pairs = verify.parse_probe_log(DUAL_LOG)["pairs"]
    assert sorted(pairs) == [(1, "IPv4"), (1, "IPv6")]
    assert (pairs[(1, "IPv4")]["payload"], pairs[(1, "IPv6")]["payload"]) == (1422, 1402)
    assert pairs[(1, "IPv6")]["tcp"] is False and pairs[(1, "IPv4")]["tcp"] is True


def test_failure_lines_name_the_pairs_and_what_failed():
    found = verify.parse_probe_log(LOG)
    pairs = [
        verify.pair_result("a", "c", "pod", "IPv4", found["pairs"][(2, "IPv4")]),
        verify.pair_result("a", "b", "pod", "IPv4", found["pairs"][(1, "IPv4")]),
        verify.pair_result("a", "d", "host", "IPv4", None),
        verify.pair_result("a", "e", "pod", "IPv4", {"icmp": True, "tcp": True, "mtu": True, "payload": 1422}),
        verify.service_result("a", "10.96.0.9", found["service"]),
    ]
    assert pairs[0]["icmp"] == {"ok": True, "rtt_ms": 0.412}
    assert pairs[2]["mtu"] is None  # no MTU check on the host path
    assert {pair["family"] for pair in pairs} == {"IPv4"}
    assert all("skipped" not in pair for pair in pairs)  # a single-stack result gains the family, nothing else
    lines = verify.failure_lines(pairs)
    assert lines == [
        "a -> c (pod): mtu (ping of 1422 bytes with DF)",
        "a -> b (pod): icmp, tcp",  # no mtu: a dead path says nothing about its MTU
        "a -> d (host): icmp, tcp",
        "a -> service 10.96.0.9 (service): tcp 2/3",
    ]
    assert verify.failure_message(lines[:1], 5) == (
        "the pod network fails 1 of 5 checks: a -> c (pod): mtu (ping of 1422 bytes with DF)"
    )


def test_on_a_dual_stack_cluster_each_line_names_its_family():
    found = verify.parse_probe_log(DUAL_LOG)
    pairs = [
        verify.pair_result("a", "b", "pod", "IPv4", found["pairs"][(1, "IPv4")]),
        verify.pair_result("a", "b", "pod", "IPv6", found["pairs"][(1, "IPv6")]),
        verify.pair_result("a", "b", "host", "IPv4", {"icmp": False, "tcp": False}),
        verify.skipped_result("a", "b", "host", "IPv6", "the host network of a has no IPv6 address"),
        verify.service_result("a", "10.96.0.9", {"succeeded": 3, "attempts": 3}),
    ]
    assert verify.failure_lines(pairs) == [
        # IPv6 has no DF bit: the full-size ping is one no router fragments
        "a -> b (pod, IPv6): tcp, mtu (ping of 1402 bytes unfragmented)",
        "a -> b (host, IPv4): icmp, tcp",
    ]
    assert pairs[3] == {
        "source": "a",
        "target": "b",
        "path": "host",
        "family": "IPv6",
        "icmp": None,
        "tcp": None,
        "mtu": None,
        "skipped": "the host network of a has no IPv6 address",
    }
    assert verify.skipped_reasons(pairs + pairs) == ["the host network of a has no IPv6 address"]


def test_the_service_entry_has_its_cluster_ips_family():
    assert verify.service_result("a", "10.96.0.9", None)["family"] == "IPv4"
    assert verify.service_result("a", "fd00:10:96::a", None)["family"] == "IPv6"


def test_a_prober_without_the_mtu_check_reports_no_mtu_result():
    unchecked = verify.pair_result("a", "b", "pod", "IPv4", {"icmp": True, "tcp": True, "mtu": None, "payload": 1422})
    assert unchecked["mtu"] is None and verify.failure_lines([unchecked]) == []
    pod_spec = verify.prober_pod("ns", "a", 0, "img", "Never", [(1, "10.244.1.5")], None, False, 3, check_mtu=False)
    assert {"name": "MTU_CHECK", "value": "0"} in pod_spec["spec"]["containers"][0]["env"]


def pod(name, role, phase, waiting=None, node_name="a"):
    status = {"phase": phase}
    if waiting:
        status["containerStatuses"] = [{"state": {"waiting": {"reason": waiting, "message": "m"}}}]
    return {
        "metadata": {"name": name, "uid": name, "labels": {"role": role}},
        "spec": {"nodeName": node_name},
        "status": status,
    }


def test_pods_not_done_name_phase_reason_and_node():
    pods = {
        p["metadata"]["uid"]: p
        for p in [pod("p1", "prober", "Succeeded"), pod("p2", "prober", "Pending", "ContainerCreating")]
    }
    assert verify.pods_not_done(pods) == ["p2 (Pending: ContainerCreating, on a)"]


def test_an_image_that_cannot_be_pulled_is_fatal_at_once():
    assert verify.fatal_pod_problem(pod("t", "target", "Pending", "ErrImageNeverPull")) == "t on a: ErrImageNeverPull m"
    assert verify.fatal_pod_problem(pod("t", "target", "Pending", "ContainerCreating")) is None
    assert verify.fatal_pod_problem(pod("p", "prober", "Failed")) is None  # a prober's own exit is its result


# -- the NetworkPolicy warning ---------------------------------------------------------------------------------


def policy(namespace, name="p"):
    return {"kind": "NetworkPolicy", "metadata": {"namespace": namespace, "name": name}}


def test_flannel_with_networkpolicies_warns_naming_count_and_namespaces():
    warning = unenforced_networkpolicy_warning("flannel", [policy("shop", "a"), policy("shop", "b"), policy("db")])
    assert warning.startswith("3 NetworkPolicy objects exist in db (1), shop (2), but Flannel does not enforce")
    assert "cni=canal" in warning


def test_one_policy_reads_well_and_many_namespaces_are_cut_short():
    assert unenforced_networkpolicy_warning("flannel", [policy("a")]).startswith(
        "1 NetworkPolicy object exists in a (1)"
    )
    many = unenforced_networkpolicy_warning("flannel", [policy(f"ns{i:02d}") for i in range(12)])
    assert "and 2 more namespaces" in many


@pytest.mark.parametrize("cni", ["canal", "calico", None])
def test_no_warning_where_policies_are_enforced_or_no_cni(cni):
    assert unenforced_networkpolicy_warning(cni, [policy("a")]) is None


def test_no_warning_without_policies():
    assert unenforced_networkpolicy_warning("flannel", []) is None


# -- runs that must not probe ----------------------------------------------------------------------------------


def flannel_daemonset():
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "kube-flannel-ds", "namespace": "kube-flannel"},
        "spec": {"template": {"spec": {"containers": [{"name": "kube-flannel", "image": "flannel:v0.28.9"}]}}},
    }


class NoWrites(FakeClient):
    def create(self, obj, dry_run=False):
        raise AssertionError(f"created {obj['kind']}")

    def delete(self, *args, **kwargs):
        raise AssertionError("deleted")


def test_kwok_nodes_are_never_reported_verified():
    client = NoWrites([node("kwok-0", fake=True), node("kwok-1", fake=True)])
    verifier = Verifier(client, {})
    result = verifier.run()
    assert result["verified"] is False
    assert "kwok-0, kwok-1 are kwok's fake nodes" in result["reason"]
    assert result["nodes"] == ["kwok-0", "kwok-1"]
    assert verifier.warnings == [result["reason"]]
    assert client.requests["write"] == 0
    # The nodes are listed once (with the DaemonSets that tell the CNI); no CNI, so no NetworkPolicy list.
    assert client.requests["LIST"] == 2


def test_check_mode_creates_nothing_and_says_so():
    client = NoWrites([node("a"), node("b"), flannel_daemonset(), policy("shop")])
    verifier = Verifier(client, {}, check_mode=True)
    result = verifier.run()
    assert result["verified"] is False
    assert result["reason"].startswith("check mode")
    assert any("Flannel does not enforce" in warning for warning in verifier.warnings)


def test_image_registry_moves_the_probe_image():
    verifier = Verifier(NoWrites(), {"image_registry": "mirror.local/k8s"})
    assert verifier.image == "mirror.local/k8s/e2e-test-images/agnhost:2.63.0"
    with pytest.raises(InputError, match="max_pairs"):
        Verifier(NoWrites(), {"max_pairs": -1})


def test_networkpolicy_warning_lists_policies_only_for_flannel():
    client = FakeClient(
        [
            {"kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "shop"}},
            {"kind": "NetworkPolicy", "metadata": {"name": "allow-web", "namespace": "shop"}},
        ]
    )
    assert networkpolicy_warning(client, "canal") is None and client.requests["LIST"] == 0
    warning = networkpolicy_warning(client, "flannel")
    assert warning.startswith("2 NetworkPolicy objects exist in shop (2), but Flannel does not enforce NetworkPolicy")
    assert "Install Canal" in warning
