"""Calico's backend as objects, pure."""

from __future__ import annotations

import json

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import calico
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import (
    backend_from_calico_backend,
    calico_encapsulation,
)

LIVENESS = ["/bin/calico-node", "-felix-live", "-bird-live"]
READINESS = ["/bin/calico-node", "-felix-ready", "-bird-ready"]


def calico_node_container():
    return {
        "name": "calico-node",
        "env": [
            {
                "name": "CALICO_NETWORKING_BACKEND",
                "valueFrom": {"configMapKeyRef": {"name": "calico-config", "key": "calico_backend"}},
            },
            {"name": "CALICO_IPV4POOL_IPIP", "value": "Always"},
            {"name": "CALICO_IPV4POOL_VXLAN", "value": "Never"},
        ],
        "livenessProbe": {"exec": {"command": list(LIVENESS)}, "periodSeconds": 10},
        "readinessProbe": {"exec": {"command": list(READINESS)}, "periodSeconds": 10},
    }


@pytest.mark.parametrize(
    ("backend", "encapsulation", "modes"),
    [
        ("bgp", None, {"ipipMode": "Never", "vxlanMode": "Never"}),
        ("ipip", "Always", {"ipipMode": "Always", "vxlanMode": "Never"}),
        ("ipip", "CrossSubnet", {"ipipMode": "CrossSubnet", "vxlanMode": "Never"}),
        ("vxlan", "Always", {"ipipMode": "Never", "vxlanMode": "Always"}),
        ("vxlan", "CrossSubnet", {"ipipMode": "Never", "vxlanMode": "CrossSubnet"}),
    ],
)
def test_pool_modes_per_backend(backend, encapsulation, modes):
    assert calico.pool_modes(backend, calico_encapsulation(backend, encapsulation)) == modes


def test_encapsulation_defaults_to_always_and_bgp_takes_none():
    assert calico_encapsulation("ipip", None) == "Always"
    assert calico_encapsulation("bgp", None) is None
    with pytest.raises(InputError, match="does not apply to backend bgp"):
        calico_encapsulation("bgp", "CrossSubnet")
    with pytest.raises(InputError, match="not valid for backend vxlan; use one of: Always, CrossSubnet"):
        calico_encapsulation("vxlan", "always")


def test_calico_backend_ipip_is_rejected_with_the_fix():
    with pytest.raises(InputError, match="use backend=ipip, which writes calico_backend: bird"):
        backend_from_calico_backend("ipip", "calico", None)


@pytest.mark.parametrize(
    ("backend", "liveness", "readiness", "ipip", "vxlan"),
    [
        ("vxlan", ["/bin/calico-node", "-felix-live"], ["/bin/calico-node", "-felix-ready"], "Never", "Always"),
        ("ipip", LIVENESS, READINESS, "Always", "Never"),
        ("bgp", LIVENESS, READINESS, "Never", "Never"),
    ],
)
def test_calico_node_probes_and_env_follow_the_backend(backend, liveness, readiness, ipip, vxlan):
    encapsulation = calico_encapsulation(backend, None)
    container = calico.desired_calico_container(calico_node_container(), backend, encapsulation, "10.10.0.0/16")
    assert container["livenessProbe"]["exec"]["command"] == liveness
    assert container["readinessProbe"]["exec"]["command"] == readiness
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["CALICO_IPV4POOL_IPIP"] == ipip
    assert env["CALICO_IPV4POOL_VXLAN"] == vxlan
    assert env["CALICO_IPV4POOL_CIDR"] == "10.10.0.0/16"
    assert "valueFrom" in container["env"][0]  # calico_backend still comes from the ConfigMap


def test_probes_come_back_when_leaving_vxlan_and_are_idempotent():
    vxlan = calico.desired_calico_container(calico_node_container(), "vxlan", "Always", "10.10.0.0/16")
    back = calico.desired_calico_container(vxlan, "bgp", None, "10.10.0.0/16")
    assert back["livenessProbe"]["exec"]["command"] == LIVENESS
    assert back["readinessProbe"]["exec"]["command"] == READINESS
    assert calico.desired_calico_container(back, "bgp", None, "10.10.0.0/16") == back


def test_new_pool_is_what_calico_node_would_create():
    pool = calico.desired_ippool(
        None, "default-ipv4-ippool", "192.168.0.0/16", 26, {"ipipMode": "Never", "vxlanMode": "Always"}
    )
    assert pool["spec"] == {
        "cidr": "192.168.0.0/16",
        "blockSize": 26,
        "natOutgoing": True,
        "nodeSelector": "all()",
        "ipipMode": "Never",
        "vxlanMode": "Always",
    }


def test_live_pool_keeps_its_fields_and_changes_both_modes():
    live = {
        "metadata": {"name": "p"},
        "spec": {
            "cidr": "192.168.0.0/16",
            "blockSize": 26,
            "ipipMode": "Always",
            "natOutgoing": True,
            "disabled": False,
        },
    }
    pool = calico.desired_ippool(live, "p", "192.168.0.0/16", 26, {"ipipMode": "Never", "vxlanMode": "Always"})
    assert pool["spec"]["ipipMode"] == "Never" and pool["spec"]["vxlanMode"] == "Always"
    assert pool["spec"]["disabled"] is False
    assert live["spec"]["ipipMode"] == "Always"


@pytest.mark.parametrize("value", ["always", "On", ""])
def test_invalid_live_pool_mode_is_caught(value):
    with pytest.raises(LiveStateError, match="calico-node does not accept"):
        calico.check_pool_modes({"metadata": {"name": "p"}, "spec": {"ipipMode": value}})


def test_felix_explicit_encapsulation_follows_the_pool_and_absent_stays_absent():
    modes = {"ipipMode": "Never", "vxlanMode": "Always"}
    felix = calico.desired_felix_configuration({"spec": {"ipipEnabled": True, "logSeverityScreen": "Info"}}, modes)
    assert felix["spec"] == {"ipipEnabled": False, "logSeverityScreen": "Info"}
    assert calico.desired_felix_configuration({"spec": {}}, modes) == {"spec": {}}
    assert calico.desired_felix_configuration(None, modes) is None


@pytest.mark.parametrize(
    ("calico_backend", "modes", "backend"),
    [
        ("bird", {"ipipMode": "Always"}, "ipip"),
        ("bird", {"ipipMode": "Never", "vxlanMode": "Never"}, "bgp"),
        ("vxlan", {"vxlanMode": "CrossSubnet"}, "vxlan"),
        ("bird", {}, "bgp"),
    ],
)
def test_backend_of_live_state(calico_backend, modes, backend):
    assert calico.backend_of(calico_backend, modes) == backend


DUAL = "10.10.0.0/16,fd00:10:10::/56"


@pytest.mark.parametrize(("backend", "ipv6_vxlan"), [("vxlan", "Always"), ("bgp", "Never")])
def test_dual_stack_calico_node_gets_the_ipv6_pool_ip6_and_felix_ipv6(backend, ipv6_vxlan):
    encapsulation = calico_encapsulation(backend, None)
    container = calico.desired_calico_container(
        calico_node_container(), backend, encapsulation, DUAL, ("interface", "eth1")
    )
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["CALICO_IPV4POOL_CIDR"] == "10.10.0.0/16"
    assert env["CALICO_IPV6POOL_CIDR"] == "fd00:10:10::/56"
    assert env["CALICO_IPV6POOL_VXLAN"] == ipv6_vxlan
    assert (env["IP6"], env["FELIX_IPV6SUPPORT"]) == ("autodetect", "true")
    assert env["IP_AUTODETECTION_METHOD"] == env["IP6_AUTODETECTION_METHOD"] == "interface=^eth1$"
    again = calico.desired_calico_container(container, backend, encapsulation, DUAL, ("interface", "eth1"))
    assert again == container


def test_single_stack_calico_node_keeps_its_ipv6_env():
    container = calico_node_container()
    container["env"].append({"name": "FELIX_IPV6SUPPORT", "value": "false"})
    env = calico.desired_calico_container(container, "ipip", "Always", "10.10.0.0/16")["env"]
    assert {"name": "FELIX_IPV6SUPPORT", "value": "false"} in env
    assert not [item for item in env if item["name"] in ("IP6", "CALICO_IPV6POOL_CIDR")]


CNI_NETWORK_CONFIG = """{
  "plugins": [
    {
      "type": "calico",
      "mtu": __CNI_MTU__,
      "ipam": {
          "type": "calico-ipam"
      },
      "policy": {"type": "k8s"}
    }
  ]
}"""


def test_calico_ipam_assigns_both_families_and_the_template_stays_a_template():
    text = calico.desired_cni_network_config(CNI_NETWORK_CONFIG)
    assert '"mtu": __CNI_MTU__,' in text
    ipam = json.loads(text.replace("__CNI_MTU__", "1440"))["plugins"][0]["ipam"]
    assert ipam == {"type": "calico-ipam", "assign_ipv4": "true", "assign_ipv6": "true"}
    assert calico.desired_cni_network_config(text) == text
    turned_off = text.replace('"assign_ipv6": "true"', '"assign_ipv6": "false"')
    assert calico.desired_cni_network_config(turned_off) == text


def test_an_ipv6_pool_never_has_ipip():
    assert calico.ipv6_pool_modes("vxlan", "CrossSubnet") == {"ipipMode": "Never", "vxlanMode": "CrossSubnet"}
    assert calico.ipv6_pool_modes("bgp", None) == {"ipipMode": "Never", "vxlanMode": "Never"}


def test_the_ipv6_pool_is_picked_by_its_name_or_as_the_only_one():
    pools = [
        {"metadata": {"name": "default-ipv4-ippool"}, "spec": {"cidr": "10.10.0.0/16"}},
        {"metadata": {"name": "mine"}, "spec": {"cidr": "fd00:10:10::/56"}},
    ]
    assert calico.pick_pool(pools, "default-ipv6-ippool", family=6)["metadata"]["name"] == "mine"
    assert calico.pick_pool(pools, "default-ipv4-ippool")["metadata"]["name"] == "default-ipv4-ippool"
    assert calico.pick_pool(pools[:1], "default-ipv6-ippool", family=6) is None


@pytest.mark.parametrize(
    ("node_address", "ipv6"),
    [
        (("interface", "eth1"), ("interface", "eth1")),
        (("cidr", "10.0.0.0/24"), ("first-found", None)),
        (("cidr", "fd00:198:18::/64"), ("cidr", "fd00:198:18::/64")),
        (("can-reach", "10.0.0.1"), ("first-found", None)),
        (("kubernetes-internal-ip", None), ("kubernetes-internal-ip", None)),
    ],
)
def test_an_ipv4_value_of_the_node_address_is_not_used_for_ipv6(node_address, ipv6):
    assert calico.ipv6_node_address(node_address) == ipv6
