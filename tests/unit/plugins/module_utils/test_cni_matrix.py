"""The CNI matrix's lookups: backend names normalised, wrong names refused naming the choices."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import cni_matrix
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError


@pytest.mark.parametrize(
    ("cni", "backend", "expected"),
    [
        ("flannel", None, "vxlan"),
        ("canal", None, "vxlan"),
        ("calico", None, "ipip"),
        ("calico", "bird", "bgp"),
        ("calico", "bgp", "bgp"),
        ("flannel", "host-gw", "host-gw"),
        ("flannel", "ipip", "ipip"),
        ("canal", "wireguard", "wireguard"),
    ],
)
def test_backend_names_are_normalized(cni, backend, expected):
    assert cni_matrix.normalize_backend(cni, backend) == expected


@pytest.mark.parametrize(
    ("cni", "backend", "message"),
    [
        ("flannel", "bgp", r"not a backend of flannel \(that is a backend of calico\); use one of: vxlan, host-gw"),
        ("calico", "host-gw", r"not a backend of calico \(that is a backend of flannel, canal\)"),
        ("calico", "wireguard", r"use one of: bgp, ipip, vxlan, bird \(alias of bgp\)$"),
        ("canal", "bird", "not a backend of canal"),
        ("weave", None, "cni='weave' is not supported; use one of: flannel, calico, canal"),
    ],
)
def test_wrong_backend_names_the_choices(cni, backend, message):
    with pytest.raises(InputError, match=message):
        cni_matrix.normalize_backend(cni, backend)


def test_backend_names_with_aliases():
    assert cni_matrix.backend_names("flannel") == ["vxlan", "host-gw", "wireguard", "udp", "ipip"]
    assert cni_matrix.backend_names("calico") == ["bgp", "ipip", "vxlan", "bird"]
    assert cni_matrix.ALL_BACKENDS == ("bgp", "bird", "host-gw", "ipip", "udp", "vxlan", "wireguard")


@pytest.mark.parametrize(
    ("cni", "backend", "overhead"),
    [
        ("flannel", "vxlan", 50),
        ("flannel", "wireguard", 80),
        ("flannel", "ipip", 20),
        ("calico", "bird", 0),
        ("calico", "ipip", 20),
    ],
)
def test_mtu_overhead(cni, backend, overhead):
    assert cni_matrix.mtu_overhead(cni, backend) == overhead


def test_every_pinned_version_has_a_checksum():
    assert cni_matrix.known_sha256("flannel", "v0.28.9").startswith("e875824b")
    assert cni_matrix.known_sha256("calico", "v3.32.1").startswith("a1df919d")
    assert cni_matrix.known_sha256("canal", "v3.32.1").startswith("aa58a7b2")
    for cni, spec in cni_matrix.CNIS.items():
        assert cni_matrix.known_sha256(cni, spec["version"]), cni
