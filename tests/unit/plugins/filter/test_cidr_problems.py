"""cidr_problems: the kubeadm_init role's refusal of networks kubeadm would take and the cluster could not use."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.filter.cidr_list import FilterModule as CidrList
from ansible_collections.kubeforge.cluster.plugins.filter.cidr_problems import cidr_problems

cidr_list = CidrList().filters()["cidr_list"]

SERVICES = "10.96.0.0/12"


@pytest.mark.parametrize(
    ("pod_cidr", "service_subnet", "problems"),
    [
        ("10.244.0.0/16", SERVICES, []),
        ("192.168.0.0/16", "10.112.0.0/12", []),
        ("10.96.0.0/16", SERVICES, ["pod_cidr 10.96.0.0/16 overlaps services 10.96.0.0/12; give them disjoint ranges"]),
        ("10.0.0.0/8", SERVICES, ["pod_cidr 10.0.0.0/8 overlaps services 10.96.0.0/12; give them disjoint ranges"]),
        ("banana", SERVICES, ["pod_cidr='banana' is not a network CIDR"]),
        ("10.244.0.0/33", SERVICES, ["pod_cidr='10.244.0.0/33' is not a network CIDR"]),
        ("10.244.0.1/16", SERVICES, ["pod_cidr='10.244.0.1/16' is not a network CIDR (10.244.0.1/16 has host bits"]),
        ("fd00::/48", SERVICES, ["pod_cidr=fd00::/48: IPv6-only clusters are not supported; give an IPv4 network"]),
        ("banana", "10.96.0/12", ["pod_cidr='banana' is not", "services='10.96.0/12' is not"]),
        # Dual stack: a list or a comma string, IPv4 first, one network per family.
        ("10.244.0.0/16,fd00:10:244::/56", SERVICES, []),
        (["10.244.0.0/16", "fd00:10:244::/56"], "10.96.0.0/12, fd00:10:96::/112", []),
        ("10.244.0.0/16,10.245.0.0/16", SERVICES, ["pod_cidr=10.244.0.0/16,10.245.0.0/16 has two IPv4 networks"]),
        (
            "fd00:10:244::/56,10.244.0.0/16",
            SERVICES,
            ["pod_cidr=fd00:10:244::/56,10.244.0.0/16: give the IPv4 network first (10.244.0.0/16,fd00:10:244::/56)"],
        ),
        ("10.244.0.0/16,fd00::/56,fd01::/56", SERVICES, ["pod_cidr=10.244.0.0/16,fd00::/56,fd01::/56 has 3 networks"]),
        (
            "10.244.0.0/16,fd00:10:244::/72",
            SERVICES,
            [
                "pod_cidr network fd00:10:244::/72 is smaller than one node's "
                "pod subnet (/64 for IPv6); give /64 or larger"
            ],
        ),
        ("10.244.0.0/25", SERVICES, ["pod_cidr network 10.244.0.0/25 is smaller than one node's pod subnet (/24"]),
        (
            "10.244.0.0/16,fd00::/40",
            SERVICES,
            [
                "pod_cidr network fd00::/40 holds more than 2^16 node subnets of /64, "
                "which kubeadm refuses; give /48 to /64"
            ],
        ),
        ("10.244.0.0/16,fd00::/56", "10.96.0.0/12,fd00::/112", ["pod_cidr fd00::/56 overlaps services fd00::/112"]),
        (
            "10.244.0.0/16",
            "10.96.0.0/12,fd00:10:96::/96",
            ["services network fd00:10:96::/96 is too large for services: kubeadm takes at most /108 for IPv6"],
        ),
        (
            "10.244.0.0/16",
            "10.0.0.0/11",
            ["services network 10.0.0.0/11 is too large for services: kubeadm takes at most /12 for IPv4"],
        ),
        ("10.244.0.0/16,", SERVICES, []),
        ("", SERVICES, ["pod_cidr is empty; give an IPv4 network, or an IPv4 and an IPv6 one"]),
    ],
)
def test_each_problem_is_named_once(pod_cidr, service_subnet, problems):
    found = cidr_problems({"pod_cidr": pod_cidr, "services": service_subnet}, services=["services"])
    assert len(found) == len(problems), found
    for message, expected in zip(found, problems, strict=True):
        assert message.startswith(expected), message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.244.0.0/16", ["10.244.0.0/16"]),
        ("10.244.0.0/16, fd00:10:244::/56", ["10.244.0.0/16", "fd00:10:244::/56"]),
        (["10.244.0.0/16", "fd00:10:244::/56"], ["10.244.0.0/16", "fd00:10:244::/56"]),
        ("", []),
        (None, []),
    ],
)
def test_cidr_list_takes_a_comma_string_or_a_list(value, expected):
    assert cidr_list(value) == expected
