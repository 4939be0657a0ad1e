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


# What the matrix allows, by the option's last word ("" for an installer: the default way).
MATRIX_CHOICES = {
    "cni": cni_matrix.CNI_NAMES,
    "backend": cni_matrix.ALL_BACKENDS,
    "installer": ("", *cni_matrix.CALICO_INSTALLERS),
}


# The CNI roles' specs are generated from the matrix (tests/unit/tools/test_argument_specs.py); these are written
# by hand, so their choices are checked here.
@pytest.mark.parametrize(
    ("role", "option", "choices"),
    [
        ("prepare", "prepare_cni", ["flannel", "calico", "canal"]),
        ("prepare", "prepare_cni_backend", ["bgp", "bird", "host-gw", "ipip", "udp", "vxlan", "wireguard"]),
        ("prepare", "prepare_cni_installer", ["", "manifest", "operator"]),
        ("kubeadm_init", "kubeadm_init_cni", ["flannel", "calico", "canal"]),
    ],
)
def test_hand_written_role_specs_offer_the_matrix_choices(role, option, choices):
    assert sorted(role_options(role)[option]["choices"]) == sorted(choices)
    assert sorted(choices) == sorted(MATRIX_CHOICES[option.rsplit("_", 1)[1]])
