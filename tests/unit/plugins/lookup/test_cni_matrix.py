"""The cni_matrix lookup: what roles read of the matrix, keyed by every accepted backend name."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleError
from ansible_collections.kubeforge.cluster.plugins.lookup.cni_matrix import LookupModule


def lookup(*names):
    return LookupModule().run(list(names))


def test_calico_entry_keys_ports_and_kernel_by_every_backend_name_alias_included():
    (calico,) = lookup("calico")
    assert calico["backends"] == ["bgp", "ipip", "vxlan", "bird"]
    assert calico["ports"]["bird"] == ["179/tcp"]  # the alias must not report "no extra ports"
    assert calico["ports"]["ipip"] == ["179/tcp", "ipip"]
    assert calico["kernel"]["ipip"] == ["ipip"]
    assert (calico["default_pod_cidr"], calico["default_backend"], calico["version"]) == (
        "192.168.0.0/16",
        "ipip",
        "v3.32.1",
    )


def test_flannel_entry_has_its_backends_and_what_each_needs_of_a_node():
    (flannel,) = lookup("flannel")
    assert flannel["ports"] == {
        "vxlan": ["8472/udp"],
        "host-gw": [],
        "wireguard": ["51820/udp"],
        "udp": ["8285/udp"],
        "ipip": ["ipip"],
    }
    assert flannel["kernel"]["udp"] == ["tun"] and flannel["node_kernel"] == ["overlay", "br_netfilter"]


def test_calicos_wireguard_option_adds_its_port_and_kernel_module_and_means_nothing_to_flannel():
    (calico,) = LookupModule().run(["calico"], options={"wireguard": True, "encapsulation": "Always"})
    assert (calico["option_ports"], calico["option_kernel"]) == (["51820/udp"], ["wireguard"])
    (off,) = LookupModule().run(["calico"], options={"wireguard": False})
    assert (off["option_ports"], off["option_kernel"]) == ([], [])
    (flannel,) = LookupModule().run(["flannel"], options={"wireguard": True})
    assert flannel["option_ports"] == []


def test_the_operator_adds_typhas_port_and_the_manifest_none():
    (operator,) = LookupModule().run(["calico"], installer="operator")
    assert operator["installer_ports"] == ["5473/tcp"]
    for installer in ("manifest", "", None):
        (calico,) = LookupModule().run(["calico"], installer=installer)
        assert calico["installer_ports"] == []
    (flannel,) = lookup("flannel")
    assert flannel["installer_ports"] == []


@pytest.mark.parametrize(
    ("cni", "installer", "message"),
    [
        ("calico", "helm", "installer='helm': use one of manifest, operator"),
        ("flannel", "operator", "installs Calico only; flannel installs from its manifest"),
    ],
)
def test_an_installer_that_is_no_way_of_installing_the_cni_is_refused(cni, installer, message):
    with pytest.raises(AnsibleError, match=message):
        LookupModule().run([cni], installer=installer)


def test_unknown_cni_is_an_ansible_error_naming_the_choices():
    with pytest.raises(AnsibleError, match="use one of: flannel, calico, canal"):
        lookup("weave")


def test_dual_stack_backends_and_node_masks_come_from_the_matrix():
    flannel, calico, canal = lookup("flannel", "calico", "canal")
    assert flannel["dual_stack_backends"] == ["vxlan", "host-gw", "wireguard"]
    assert calico["dual_stack_backends"] == ["bgp", "vxlan", "bird"]
    assert canal["dual_stack_backends"] == []
    assert flannel["node_cidr_mask_sizes"] == {"ipv4": 24, "ipv6": 64}


def test_no_name_is_every_cni_with_what_kubeadm_reset_leaves_on_a_node():
    entries = lookup()
    assert [entry["name"] for entry in entries] == ["flannel", "calico", "canal"]
    links = {entry["name"]: entry["node_leftovers"]["links"] for entry in entries}
    assert links == {
        "flannel": ["cni0", "flannel*"],
        "calico": ["cali*", "vxlan.calico", "vxlan-v6.calico", "wireguard.cali", "wg-v6.cali"],
        "canal": ["cali*", "flannel*"],
    }
    # kubeadm reset names /etc/cni/net.d as what it leaves; every CNI's entry removes it.
    assert all("/etc/cni/net.d" in entry["node_leftovers"]["paths"] for entry in entries)
