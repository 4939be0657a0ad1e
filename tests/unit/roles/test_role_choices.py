"""The roles' argument specs offer exactly the matrix's CNIs and backends."""

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


@pytest.mark.parametrize("cni", list(cni_matrix.CNI_NAMES))
def test_each_cni_role_offers_exactly_the_matrix_backends(cni):
    expected = set(cni_matrix.CNIS[cni]["backends"]) | (
        set(cni_matrix.CALICO_BACKEND_ALIASES) if cni == "calico" else set()
    )
    assert set(role_options(cni)["cni_backend"]["choices"]) == expected


@pytest.mark.parametrize(
    ("role", "entry", "option"),
    [
        ("cni", "main", "cni_backend"),
        ("cni", "validate", "cni_backend"),
        ("prepare", "main", "prepare_cni_backend"),
        ("cni_backend", "main", "cni_backend"),
    ],
)
def test_generic_roles_offer_every_matrix_backend(role, entry, option):
    assert sorted(role_options(role, entry)[option]["choices"]) == sorted(cni_matrix.ALL_BACKENDS)


@pytest.mark.parametrize(
    ("role", "entry", "option"),
    [
        ("cni", "main", "cni_name"),
        ("cni", "validate", "cni_name"),
        ("prepare", "main", "prepare_cni"),
        ("kubeadm_init", "main", "kubeadm_init_cni"),
    ],
)
def test_roles_offer_the_matrix_cnis(role, entry, option):
    assert role_options(role, entry)[option]["choices"] == list(cni_matrix.CNI_NAMES)
