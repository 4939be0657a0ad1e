"""cidr_problems: the kubeadm_init role's refusal of networks kubeadm would take and the cluster could not use."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.filter.cidr_problems import cidr_problems

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
        ("fd00::/48", SERVICES, ["pod_cidr=fd00::/48: only IPv4 pod CIDRs are supported"]),
        ("banana", "10.96.0/12", ["pod_cidr='banana' is not", "services='10.96.0/12' is not"]),
    ],
)
def test_each_problem_is_named_once(pod_cidr, service_subnet, problems):
    found = cidr_problems({"pod_cidr": pod_cidr, "services": service_subnet})
    assert len(found) == len(problems), found
    for message, expected in zip(found, problems, strict=True):
        assert message.startswith(expected), message
