"""The Tigera operator's Installation as cni_config reads and writes it: the backend pool, the vocabulary mapped
onto encapsulation and bgp, only the asked-for fields changed, what the operator would reject, its Ready report."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import Request
from ansible_collections.kubeforge.cluster.plugins.module_utils.tigera import (
    address_autodetection,
    check_expressible,
    desired_installation,
    installation_network,
    installation_pool_index,
    installation_state,
)


def request(backend="vxlan", encapsulation="Always", **values):
    fields = dict(mtu=None, node_address=None, image_registry=None)
    fields.update(values)
    return Request(backend=backend, encapsulation=encapsulation, **fields)


def upstream_installation(*pools):
    """custom-resources.yaml's Installation (v3.32.1), with the given pools."""
    return {
        "apiVersion": "operator.tigera.io/v1",
        "kind": "Installation",
        "metadata": {"name": "default", "resourceVersion": "7", "generation": 1},
        "spec": {"calicoNetwork": {"ipPools": list(pools)}},
    }


V4_POOL = {
    "name": "default-ipv4-ippool",
    "blockSize": 26,
    "cidr": "192.168.0.0/16",
    "encapsulation": "VXLANCrossSubnet",
    "natOutgoing": "Enabled",
    "nodeSelector": "all()",
}
V6_POOL = {"name": "default-ipv6-ippool", "cidr": "fd00:10:244::/48", "encapsulation": "None"}


@pytest.mark.parametrize(
    ("pools", "index"),
    [
        ([V4_POOL], 0),
        ([V6_POOL, V4_POOL], 1),
        ([dict(V4_POOL, name="zone-a")], 0),  # the only IPv4 pool, under another name
        ([dict(V4_POOL, name="zone-a"), dict(V4_POOL, name="zone-b", cidr="10.1.0.0/16")], None),
        ([V6_POOL], None),
        ([], None),
    ],
)
def test_the_backend_pool_is_the_default_named_or_only_ipv4_one(pools, index):
    assert installation_pool_index(upstream_installation(*pools), "default-ipv4-ippool") == index


@pytest.mark.parametrize(
    ("encapsulation", "backend", "mode"),
    [
        ("VXLANCrossSubnet", "vxlan", "CrossSubnet"),
        ("VXLAN", "vxlan", "Always"),
        ("IPIP", "ipip", "Always"),
        ("IPIPCrossSubnet", "ipip", "CrossSubnet"),
        ("None", "bgp", None),
        (None, "ipip", "Always"),  # omitted: the operator's API default, IPIP
    ],
)
def test_the_network_is_read_from_the_backend_pool(encapsulation, backend, mode):
    pool = dict(V4_POOL, encapsulation=encapsulation)
    if encapsulation is None:
        del pool["encapsulation"]
    found = installation_network(upstream_installation(V6_POOL, pool))
    # The IPv6 pool beside it makes the network dual-stack.
    assert found == {"backend": backend, "encapsulation": mode, "pod_cidr": "192.168.0.0/16," + V6_POOL["cidr"]}
    assert installation_network(upstream_installation(pool))["pod_cidr"] == "192.168.0.0/16"


def test_an_installation_without_pools_has_no_backend():
    assert installation_network(None) == {"backend": None, "encapsulation": None, "pod_cidr": None}


@pytest.mark.parametrize(
    ("backend", "mode", "encapsulation", "bgp"),
    [
        ("vxlan", "Always", "VXLAN", "Disabled"),
        ("vxlan", "CrossSubnet", "VXLANCrossSubnet", "Disabled"),
        ("ipip", "Always", "IPIP", "Enabled"),
        ("ipip", "CrossSubnet", "IPIPCrossSubnet", "Enabled"),
        ("bgp", None, "None", "Enabled"),
    ],
)
def test_a_switch_changes_only_the_backend_pools_encapsulation_and_bgp(backend, mode, encapsulation, bgp):
    other = dict(V4_POOL, name="extra", cidr="10.9.0.0/16", encapsulation="IPIP")
    live = upstream_installation(V6_POOL, V4_POOL, other)
    live["spec"]["variant"] = "Calico"
    before = copy.deepcopy(live)
    desired = desired_installation(live, request(backend, mode), "192.168.0.0/16")
    assert live == before  # not changed in place
    expected = copy.deepcopy(before)
    expected["spec"]["calicoNetwork"]["ipPools"][1]["encapsulation"] = encapsulation
    expected["spec"]["calicoNetwork"]["bgp"] = bgp
    assert desired == expected


def test_a_new_installation_is_upstreams_with_the_request_carried_in():
    wanted = request("ipip", "CrossSubnet", mtu=1440, node_address=("cidr", "10.0.0.0/24, 10.1.0.0/24"))
    wanted.image_registry = "registry.example.com/mirror"
    desired = desired_installation(None, wanted, "10.244.0.0/16")
    assert desired == {
        "apiVersion": "operator.tigera.io/v1",
        "kind": "Installation",
        "metadata": {"name": "default"},
        "spec": {
            "registry": "registry.example.com/mirror/",
            "calicoNetwork": {
                "bgp": "Enabled",
                "mtu": 1440,
                "nodeAddressAutodetectionV4": {"cidrs": ["10.0.0.0/24", "10.1.0.0/24"]},
                "ipPools": [
                    {
                        "name": "default-ipv4-ippool",
                        "cidr": "10.244.0.0/16",
                        "blockSize": 26,
                        "encapsulation": "IPIPCrossSubnet",
                        "natOutgoing": "Enabled",
                        "nodeSelector": "all()",
                    }
                ],
            },
        },
    }


def test_a_desired_installation_is_a_fixed_point():
    wanted = request("vxlan", "CrossSubnet", mtu=1400, node_address=("interface", "eth1"))
    first = desired_installation(upstream_installation(V4_POOL), wanted, "192.168.0.0/16")
    assert desired_installation(first, wanted, "192.168.0.0/16") == first


def test_an_installation_that_leaves_the_pools_to_the_user_is_refused():
    with pytest.raises(LiveStateError, match=r"no IPv4 pool in calicoNetwork.ipPools .*set it on the IPPool itself"):
        desired_installation(upstream_installation(V6_POOL), request(), "192.168.0.0/16")


@pytest.mark.parametrize(
    ("node_address", "autodetection"),
    [
        (("first-found", None), {"firstFound": True}),
        (("interface", "eth1.100"), {"interface": r"^eth1\.100$"}),
        (("interface-regex", "^(eth|ens).*"), {"interface": "^(eth|ens).*"}),
        (("can-reach", "10.0.0.1"), {"canReach": "10.0.0.1"}),
        (("cidr", "10.0.0.0/24"), {"cidrs": ["10.0.0.0/24"]}),
        (("kubernetes-internal-ip", None), {"kubernetes": "NodeInternalIP"}),
    ],
)
def test_node_address_is_the_installations_autodetection(node_address, autodetection):
    assert address_autodetection(node_address) == autodetection


@pytest.mark.parametrize(
    ("spec", "backend", "message"),
    [
        ({"cni": {"type": "AmazonVPC"}}, "ipip", "cni.type AmazonVPC: Calico enforces policy only"),
        ({"cni": {"type": "Calico", "ipam": {"type": "HostLocal"}}}, "vxlan", "host-local IPAM .* rejects VXLAN"),
    ],
)
def test_what_the_operator_would_reject_is_refused(spec, backend, message):
    live = upstream_installation(V4_POOL)
    live["spec"].update(spec)
    with pytest.raises(LiveStateError, match=message):
        check_expressible(live, backend)


def test_host_local_ipam_still_takes_bgp():
    live = upstream_installation(V4_POOL)
    live["spec"]["cni"] = {"type": "Calico", "ipam": {"type": "HostLocal"}}
    check_expressible(live, "bgp")


def condition(kind, generation, status="True", message=""):
    return {"type": kind, "status": status, "observedGeneration": generation, "message": message}


@pytest.mark.parametrize(
    ("conditions", "state"),
    [
        ([], (False, None)),
        ([condition("Ready", 2)], (False, None)),  # the previous generation's report
        ([condition("Ready", 3)], (True, None)),
        ([condition("Ready", 3, "False"), condition("Progressing", 3)], (False, None)),
        ([condition("Degraded", 3, message="IPIP needs BGP")], (False, "IPIP needs BGP")),
        ([condition("Degraded", 2, message="old")], (False, None)),
    ],
)
def test_the_operators_report_is_read_for_the_current_generation(conditions, state):
    installation = {"metadata": {"generation": 3}, "status": {"conditions": conditions}}
    assert installation_state(installation) == state


DUAL = "10.244.0.0/16,fd00:10:244::/56"


@pytest.mark.parametrize(
    ("backend", "encapsulation", "operator"), [("vxlan", "Always", "VXLAN"), ("bgp", None, "None")]
)
def test_a_dual_stack_installation_gets_an_ipv6_pool_with_the_backends_encapsulation(backend, encapsulation, operator):
    desired = desired_installation(None, request(backend, encapsulation), DUAL)
    network = desired["spec"]["calicoNetwork"]
    assert [(p["name"], p["cidr"], p["blockSize"], p["encapsulation"]) for p in network["ipPools"]] == [
        ("default-ipv4-ippool", "10.244.0.0/16", 26, operator),
        ("default-ipv6-ippool", "fd00:10:244::/56", 122, operator),
    ]
    assert network["nodeAddressAutodetectionV6"] == {"firstFound": True}
    assert installation_network(desired)["pod_cidr"] == DUAL
    assert desired_installation(desired, request(backend, encapsulation), DUAL) == desired


def test_a_switch_of_a_dual_stack_installation_changes_both_pools_and_node_address_serves_both_families():
    live = desired_installation(None, request("vxlan", "Always"), DUAL)
    switched = desired_installation(live, request("bgp", None, node_address=("interface", "eth1")), DUAL)
    network = switched["spec"]["calicoNetwork"]
    assert [pool["encapsulation"] for pool in network["ipPools"]] == ["None", "None"]
    assert network["nodeAddressAutodetectionV4"] == network["nodeAddressAutodetectionV6"] == {"interface": "^eth1$"}
