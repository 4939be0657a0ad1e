"""Flannel networking: net-conf.json, the backend options that go into it, and what a backend leaves behind."""

from __future__ import annotations

import json

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import flannel
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import mtu_overhead
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import Request, flannel_backend_keys

UPSTREAM = {"Network": "10.244.0.0/16", "EnableNFTables": False, "Backend": {"Type": "vxlan"}}
PSK = "pXW2Yh4j8bqvZ0cNc0q1o2iHn0m6g0cQW1K7o1Xx6kA="


@pytest.mark.parametrize(
    ("backend", "options", "expected_backend"),
    [
        ("vxlan", {}, {"Type": "vxlan"}),
        (
            "vxlan",
            {"vni": 4096, "port": 4789, "direct_routing": True, "gbp": False, "mtu": 1400},
            {"Type": "vxlan", "VNI": 4096, "Port": 4789, "DirectRouting": True, "GBP": False, "MTU": 1400},
        ),
        ("host-gw", {}, {"Type": "host-gw"}),
        (
            "wireguard",
            {"psk": PSK, "listen_port": 51830, "wireguard_mode": "auto", "mtu": 1380},
            {"Type": "wireguard", "PSK": PSK, "ListenPort": 51830, "Mode": "auto", "MTU": 1380},
        ),
        ("udp", {"port": 8286}, {"Type": "udp", "Port": 8286}),
        ("ipip", {"direct_routing": True}, {"Type": "ipip", "DirectRouting": True}),
    ],
)
def test_every_backend_and_option_renders(backend, options, expected_backend):
    keys = flannel_backend_keys(backend, options)
    conf = flannel.desired_net_conf(UPSTREAM, "10.244.0.0/16", backend, keys)
    assert conf["Backend"] == expected_backend
    assert conf["EnableNFTables"] is False  # a key flannel owns and we do not survives
    assert conf["Network"] == "10.244.0.0/16"


def test_backend_type_is_always_written_even_when_live_has_none():
    conf = flannel.desired_net_conf({"Network": "10.244.0.0/16"}, "10.244.0.0/16", "vxlan", {})
    assert conf["Backend"] == {"Type": "vxlan"}
    assert flannel.live_backend_type({"Network": "10.244.0.0/16"}) == "udp"


def test_same_backend_keeps_live_options_and_a_new_backend_drops_them():
    live = {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 7, "DirectRouting": True}}
    same = flannel.desired_net_conf(live, "10.244.0.0/16", "vxlan", {"Port": 4789})
    assert same["Backend"] == {"Type": "vxlan", "VNI": 7, "DirectRouting": True, "Port": 4789}
    other = flannel.desired_net_conf(live, "10.244.0.0/16", "host-gw", {})
    assert other["Backend"] == {"Type": "host-gw"}
    assert live["Backend"]["VNI"] == 7  # the live dict is not modified


def test_semantically_equal_json_is_equal():
    text = '{"Backend": {"Type": "vxlan"},\n "EnableNFTables": false, "Network": "10.244.0.0/16"}'
    live = flannel.parse_net_conf(text, "cm")
    assert flannel.desired_net_conf(live, "10.244.0.0/16", "vxlan", {}) == live


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        ("host-gw", {"vni": 2}, "vni does not apply to flannel backend host-gw; it applies to: vxlan"),
        ("udp", {"mtu": 1400}, "mtu does not apply to flannel backend udp; it applies to: vxlan, wireguard"),
        ("vxlan", {"psk": PSK}, "psk does not apply to flannel backend vxlan; it applies to: wireguard"),
        ("vxlan", {"vni": 0}, "vni=0 is out of range; use 1 to 16777215"),
        ("vxlan", {"port": 70000}, "port=70000 is out of range"),
        ("wireguard", {"listen_port": 0}, "listen_port=0 is out of range"),
        ("wireguard", {"wireguard_mode": "both"}, "wireguard_mode='both' is not valid"),
        ("vxlan", {"mtu": 100}, "mtu=100 is out of range"),
    ],
)
def test_bad_options_are_refused(backend, options, message):
    with pytest.raises(InputError, match=message):
        flannel_backend_keys(backend, options)


@pytest.mark.parametrize("psk", ["not-base64!", "c2hvcnQ=", PSK + "AAAA"])
def test_a_bad_psk_is_refused_without_echoing_it(psk):
    with pytest.raises(InputError) as error:
        flannel_backend_keys("wireguard", {"psk": psk})
    assert psk not in str(error.value)
    assert "wg genpsk" in str(error.value)


@pytest.mark.parametrize(("text", "message"), [("{not json", "is not valid JSON"), ("[1]", "must be a JSON object")])
def test_malformed_live_net_conf_gets_a_clear_error(text, message):
    with pytest.raises(LiveStateError, match=message):
        flannel.parse_net_conf(text, "ConfigMap kube-flannel/kube-flannel-cfg")


@pytest.mark.parametrize(
    ("conf", "devices"),
    [
        ({"Backend": {"Type": "vxlan"}}, ["flannel.1"]),
        ({"Backend": {"Type": "vxlan", "VNI": 4096}, "EnableIPv6": True}, ["flannel.4096", "flannel-v6.4096"]),
        ({"Backend": {"Type": "wireguard"}}, ["flannel-wg"]),
        ({"Backend": {"Type": "wireguard"}, "EnableIPv6": True}, ["flannel-wg", "flannel-wg-v6"]),
        ({"Backend": {"Type": "udp"}}, ["flannel0"]),
        ({"Backend": {"Type": "host-gw"}}, []),
    ],
)
def test_stale_devices_per_backend(conf, devices):
    assert flannel.stale_devices(conf) == devices


def test_dump_round_trips():
    conf = {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
    assert json.loads(flannel.dump_net_conf(conf)) == conf


NODES = {
    "a": {"pod_cidr": "10.244.0.0/24", "internal_ip": "192.0.2.1"},
    "b": {"pod_cidr": "10.244.1.0/24", "internal_ip": "192.0.2.2"},
}


def test_stale_node_state_after_host_gw_lists_routes_per_node():
    state = flannel.stale_node_state({"Backend": {"Type": "host-gw"}}, {"Backend": {"Type": "wireguard"}}, NODES)
    assert state == [
        {"node": "a", "devices": [], "routes": ["10.244.1.0/24 via 192.0.2.2"]},
        {"node": "b", "devices": [], "routes": ["10.244.0.0/24 via 192.0.2.1"]},
    ]


@pytest.mark.parametrize(
    ("old", "devices"),
    [
        ("vxlan", ["flannel.1"]),
        ("ipip", ["flannel.ipip"]),
        ("wireguard", ["flannel-wg"]),
        ("udp", ["flannel0"]),
    ],
)
def test_stale_node_state_lists_the_old_backends_devices_on_every_node(old, devices):
    state = flannel.stale_node_state({"Backend": {"Type": old}}, {"Backend": {"Type": "host-gw"}}, NODES)
    assert state == [{"node": "a", "devices": devices, "routes": []}, {"node": "b", "devices": devices, "routes": []}]


def test_no_stale_node_state_without_a_backend_change():
    assert (
        flannel.stale_node_state({"Backend": {"Type": "vxlan"}}, {"Backend": {"Type": "vxlan", "VNI": 2}}, NODES) == []
    )


def test_udp_privilege_is_granted_and_only_ours_taken_back():
    daemonset = {"metadata": {"name": "kube-flannel-ds"}}
    container = {"name": "kube-flannel"}
    flannel.set_backend_privilege(daemonset, container, "udp")
    assert container["securityContext"] == {"privileged": True}
    assert daemonset["metadata"]["annotations"] == {"kubeforge.io/privileged-for-udp": "true"}
    flannel.set_backend_privilege(daemonset, container, "vxlan")
    assert container["securityContext"] == {"privileged": False} and "annotations" not in daemonset["metadata"]
    privileged_by_manifest = {"name": "kube-flannel", "securityContext": {"privileged": True}}
    flannel.set_backend_privilege(daemonset, privileged_by_manifest, "vxlan")
    assert privileged_by_manifest["securityContext"] == {"privileged": True}


DUAL = "10.244.0.0/16,fd00:10:244::/56"


def test_dual_stack_net_conf_turns_on_ipv6_and_is_read_back_as_both_networks():
    conf = flannel.desired_net_conf(UPSTREAM, DUAL, "vxlan", {})
    assert conf == dict(
        UPSTREAM, EnableIPv4=True, EnableIPv6=True, IPv6Network="fd00:10:244::/56", Backend={"Type": "vxlan"}
    )
    assert flannel.net_conf_networks(conf) == DUAL
    assert flannel.desired_net_conf(conf, DUAL, "vxlan", {}) == conf


@pytest.mark.parametrize(
    ("conf", "networks"),
    [
        (UPSTREAM, "10.244.0.0/16"),
        (dict(UPSTREAM, IPv6Network="fd00::/56"), "10.244.0.0/16"),  # ignored without EnableIPv6, as flanneld does
        (dict(UPSTREAM, IPv6Network="fd00::/56", EnableIPv6=True), "10.244.0.0/16,fd00::/56"),
        ({}, None),
    ],
)
def test_the_live_networks_are_those_flanneld_uses(conf, networks):
    assert flannel.net_conf_networks(conf) == networks


DUAL_NODES = {
    "a": {
        "pod_cidr": "10.244.0.0/24",
        "pod_cidrs": ["10.244.0.0/24", "fd00:10:244::/64"],
        "internal_ip": "192.0.2.1",
        "flannel_public_ipv6": "2001:db8::1",
    },
    "b": {
        "pod_cidr": "10.244.1.0/24",
        "pod_cidrs": ["10.244.1.0/24", "fd00:10:244:1::/64"],
        "internal_ip": "192.0.2.2",
        "flannel_public_ipv6": "2001:db8::2",
    },
}


def test_host_gw_leaves_a_route_per_family_through_the_others_address_of_that_family():
    state = flannel.stale_node_state({"Backend": {"Type": "host-gw"}}, {"Backend": {"Type": "vxlan"}}, DUAL_NODES)
    assert state[0] == {
        "node": "a",
        "devices": [],
        "routes": ["10.244.1.0/24 via 192.0.2.2", "fd00:10:244:1::/64 via 2001:db8::2"],
    }


def test_a_dual_stack_network_needs_both_node_subnets():
    driver = flannel.FlannelDriver("flannel")
    live = type("Live", (), {"nodes": DUAL_NODES})()
    driver.check_nodes(live, DUAL)
    live.nodes = dict(DUAL_NODES, c={"pod_cidrs": ["10.244.2.0/24"]})
    with pytest.raises(LiveStateError, match=r"without a spec.podCIDRs subnet of each family of .*: c;"):
        driver.check_nodes(live, DUAL)


@pytest.mark.parametrize(
    ("backend", "mtu", "node_mtu", "pod_cidr", "keys"),
    [
        ("vxlan", None, 1500, DUAL, {"MTU": 1480}),  # pods get 1430: what flannel-v6.1 carries
        ("vxlan", None, 9000, DUAL, {"MTU": 8980}),
        ("vxlan", 1400, 1500, DUAL, {}),  # the user's mtu wins (it is in flannel_keys already)
        ("vxlan", None, 1500, "10.244.0.0/16", {}),
        ("vxlan", None, None, DUAL, {}),
        ("host-gw", None, 1500, DUAL, {}),
        ("wireguard", None, 1500, DUAL, {}),  # flannel takes 80 bytes on both of its devices
    ],
)
def test_a_dual_stack_vxlan_network_gets_a_backend_mtu_that_fits_ipv6(backend, mtu, node_mtu, pod_cidr, keys):
    request = Request(backend=backend, mtu=mtu, node_mtu=node_mtu)
    assert flannel.dual_stack_mtu(request, pod_cidr) == keys


def test_without_node_mtu_a_dual_stack_vxlan_install_warns_with_the_fix():
    warnings = []
    request = Request(backend="vxlan", mtu=None, node_mtu=None, flannel_keys={}, node_address=None)
    configmap = {"data": {"net-conf.json": flannel.dump_net_conf(UPSTREAM)}}
    flannel.FlannelDriver("flannel").desired_configmap(configmap, request, DUAL, warnings.append)
    assert len(warnings) == 1 and "flannel-io/flannel#1781" in warnings[0] and "minus 20" in warnings[0]
    request.node_mtu = 1500
    desired = flannel.FlannelDriver("flannel").desired_configmap(configmap, request, DUAL, warnings.append)
    assert json.loads(desired["data"]["net-conf.json"])["Backend"] == {"Type": "vxlan", "MTU": 1480}
    assert len(warnings) == 1


def test_the_mtu_overhead_of_a_dual_stack_network_is_its_ipv6_paths():
    assert mtu_overhead("flannel", "vxlan", dual_stack=True) == 70
    assert mtu_overhead("flannel", "vxlan") == 50
    assert mtu_overhead("canal", "host-gw", dual_stack=True) == 0


def test_a_live_backend_mtu_stays_when_mtu_is_omitted():
    request = Request(backend="vxlan", mtu=None, node_mtu=1500, flannel_keys={}, node_address=None)
    live = dict(UPSTREAM, Backend={"Type": "vxlan", "MTU": 1400})
    configmap = {"data": {"net-conf.json": flannel.dump_net_conf(live)}}
    desired = flannel.FlannelDriver("flannel").desired_configmap(configmap, request, DUAL, lambda _message: None)
    assert json.loads(desired["data"]["net-conf.json"])["Backend"]["MTU"] == 1400
