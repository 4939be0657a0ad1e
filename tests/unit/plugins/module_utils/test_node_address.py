"""node_address: one vocabulary checked against what each CNI can choose by, rendered as flanneld's env vars or
calico-node's IP_AUTODETECTION_METHOD, idempotently."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.calico import (
    autodetection_method,
    desired_calico_container,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.flannel import set_node_address
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import node_address


@pytest.mark.parametrize(
    ("value", "cni", "parsed"),
    [
        ("first-found", "flannel", ("first-found", None)),
        ("interface=eth1", "canal", ("interface", "eth1")),
        ("interface-regex=^(eth|ens).*", "flannel", ("interface-regex", "^(eth|ens).*")),
        ("can-reach=10.0.0.1", "calico", ("can-reach", "10.0.0.1")),
        ("cidr=10.0.0.0/24,10.1.0.0/24", "calico", ("cidr", "10.0.0.0/24,10.1.0.0/24")),
        ("kubernetes-internal-ip", "calico", ("kubernetes-internal-ip", None)),
        (None, "calico", None),
    ],
)
def test_node_address_is_parsed(value, cni, parsed):
    assert node_address(value, cni) == parsed


@pytest.mark.parametrize(
    ("value", "cni", "message"),
    [
        ("cidr=10.0.0.0/24", "flannel", "flannel cannot choose its node address that way; use one of first-found, "),
        ("kubernetes-internal-ip", "canal", "canal cannot choose its node address that way"),
        (
            "nic=eth0",
            "calico",
            "node_address='nic=eth0': use one of first-found, interface, interface-regex, can-reach",
        ),
        ("interface", "calico", "node_address=interface needs a value, e.g. node_address=interface=eth1"),
        ("first-found=yes", "calico", "first-found takes no value; write node_address=first-found"),
        ("can-reach=example.com", "flannel", "'example.com' is not valid"),
        ("interface-regex=eth[", "calico", "'eth[' is not valid"),
        ("interface=eth 1", "calico", "'eth 1' is not valid (not an interface name)"),
        ("cidr=10.0.0.0/33", "calico", "'10.0.0.0/33' is not valid"),
    ],
)
def test_bad_node_addresses_are_refused_with_the_fix(value, cni, message):
    with pytest.raises(InputError) as error:
        node_address(value, cni)
    assert message in str(error.value)


def test_calico_renders_ip_autodetection_method_and_an_interface_matches_only_itself():
    assert autodetection_method(("interface", "eth0.100")) == r"interface=^eth0\.100$"
    assert autodetection_method(("cidr", "10.0.0.0/24")) == "cidr=10.0.0.0/24"
    container = {"name": "calico-node", "env": [{"name": "IP_AUTODETECTION_METHOD", "value": "first-found"}]}
    desired = desired_calico_container(container, "bgp", None, "10.244.0.0/16", ("can-reach", "10.0.0.1"))
    env = {item["name"]: item.get("value") for item in desired["env"]}
    assert env["IP_AUTODETECTION_METHOD"] == "can-reach=10.0.0.1"
    assert desired["env"][0]["name"] == "IP_AUTODETECTION_METHOD"  # kept in its place


def test_flannel_renders_one_env_var_in_place_and_drops_iface_arguments():
    canal_iface = {"name": "FLANNELD_IFACE", "valueFrom": {"configMapKeyRef": {"name": "canal-config", "key": "x"}}}
    container = {
        "name": "kube-flannel",
        "command": ["/opt/bin/flanneld", "--ip-masq", "--iface=eth9"],
        "env": [canal_iface, {"name": "POD_NAME", "value": "p"}],
    }
    set_node_address(container, ("interface-regex", "^ens"))
    assert container["command"] == ["/opt/bin/flanneld", "--ip-masq"]
    assert container["env"] == [
        canal_iface,
        {"name": "POD_NAME", "value": "p"},
        {"name": "FLANNELD_IFACE_REGEX", "value": "^ens"},
    ]
    again = copy.deepcopy(container)
    set_node_address(again, ("interface-regex", "^ens"))
    assert again == container
    set_node_address(container, ("interface", "eth1"))  # replaces Canal's reference in place, drops the regex
    assert container["env"] == [{"name": "FLANNELD_IFACE", "value": "eth1"}, {"name": "POD_NAME", "value": "p"}]
    set_node_address(container, ("first-found", None))
    assert container["env"] == [{"name": "POD_NAME", "value": "p"}]
