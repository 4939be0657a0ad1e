"""The hand-written role argument specs offer exactly the matrix's CNIs and backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.kubeforge.cluster.plugins.module_utils import cni_matrix

ROLES = Path(__file__).resolve().parents[3] / "roles"


def role_options(role, entry="main"):
    return yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"][entry][
        "options"
    ]


# The CNI roles' specs are generated from the matrix (tests/unit/tools/test_argument_specs.py); these are written
# by hand, so their choices are checked here.
@pytest.mark.parametrize(
    ("role", "option", "choices"),
    [
        ("prepare", "prepare_cni", ["flannel", "calico", "canal"]),
        ("prepare", "prepare_cni_backend", ["bgp", "bird", "host-gw", "ipip", "udp", "vxlan", "wireguard"]),
        ("kubeadm_init", "kubeadm_init_cni", ["flannel", "calico", "canal"]),
    ],
)
def test_hand_written_role_specs_offer_the_matrix_choices(role, option, choices):
    assert sorted(role_options(role)[option]["choices"]) == sorted(choices)
    assert sorted(choices) == sorted(cni_matrix.CNI_NAMES if option.endswith("_cni") else cni_matrix.ALL_BACKENDS)
