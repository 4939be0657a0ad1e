"""The CNI matrix is the one source: backends, aliases, and the modules' documented choices agree with it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from ansible_collections.kubeforge.cluster.plugins.module_utils import cni_matrix
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import normalize_backend
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError as MatrixError
from ansible_collections.kubeforge.cluster.plugins.module_utils.module_args import (
    cni_config_argument_spec,
    cni_info_argument_spec,
)

MODULES = Path(__file__).resolve().parents[2] / "plugins" / "modules"


@pytest.mark.parametrize(
    ("cni", "backend", "expected"),
    [
        ("flannel", None, "vxlan"),
        ("canal", None, "vxlan"),
        ("calico", None, "ipip"),
        ("calico", "bird", "bgp"),
        ("calico", "bgp", "bgp"),
        ("flannel", "host-gw", "host-gw"),
        ("canal", "wireguard", "wireguard"),
    ],
)
def test_backend_names_are_normalized(cni, backend, expected):
    assert normalize_backend(cni, backend) == expected


@pytest.mark.parametrize(
    ("cni", "backend", "message"),
    [
        ("flannel", "bgp", r"not a backend of flannel \(that is a backend of calico\); use one of: vxlan"),
        ("calico", "host-gw", r"not a backend of calico \(that is a backend of flannel, canal\)"),
        ("calico", "wireguard", "use one of: bgp, ipip, vxlan, bird"),
        ("flannel", "ipip", "ipip is a Calico backend"),
        ("canal", "bird", "not a backend of canal"),
        ("weave", None, "cni='weave' is not supported; use one of: flannel, calico, canal"),
    ],
)
def test_wrong_backend_names_the_choices(cni, backend, message):
    with pytest.raises(MatrixError, match=message):
        normalize_backend(cni, backend)


def documented_options(module):
    tree = ast.parse((MODULES / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)["options"]
    raise AssertionError("no DOCUMENTATION")


@pytest.mark.parametrize(
    ("module", "spec"), [("cni_config", cni_config_argument_spec), ("cni_info", cni_info_argument_spec)]
)
def test_documentation_matches_the_argument_spec(module, spec):
    documented = documented_options(module)
    documented.update({"kubeconfig": {"type": "path"}, "context": {"type": "str"}})  # the doc fragment
    argument_spec = spec()
    assert set(documented) == set(argument_spec)
    for name, option in argument_spec.items():
        assert documented[name]["type"] == option["type"], name
        assert sorted(documented[name].get("choices", [])) == sorted(option.get("choices", [])), name
        assert documented[name].get("default") == option.get("default"), name


def test_documented_backends_are_the_matrix_backends():
    assert sorted(documented_options("cni_config")["backend"]["choices"]) == sorted(cni_matrix.ALL_BACKENDS)
    assert documented_options("cni_config")["cni"]["choices"] == list(cni_matrix.CNI_NAMES)


def test_every_pinned_version_has_a_checksum():
    for cni, spec in cni_matrix.CNIS.items():
        assert cni_matrix.known_sha256(cni, spec["version"]), cni


ROLES = Path(__file__).resolve().parents[2] / "roles"


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
