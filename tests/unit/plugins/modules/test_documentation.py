"""The modules' documentation agrees with their argument specs, which derive from the matrix."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from ansible_collections.kubeforge.cluster.plugins.module_utils.module_args import (
    cni_config_argument_spec,
    cni_info_argument_spec,
    cni_verify_argument_spec,
)

MODULES = Path(__file__).resolve().parents[4] / "plugins" / "modules"


def documented_options(module):
    tree = ast.parse((MODULES / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)["options"]
    raise AssertionError("no DOCUMENTATION")


@pytest.mark.parametrize(
    ("module", "spec"),
    [
        ("cni_config", cni_config_argument_spec),
        ("cni_info", cni_info_argument_spec),
        ("cni_verify", cni_verify_argument_spec),
    ],
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


def test_the_psk_is_never_logged():
    assert cni_config_argument_spec()["psk"]["no_log"] is True


def test_documented_choices():
    options = documented_options("cni_config")
    assert options["backend"]["choices"] == ["bgp", "bird", "host-gw", "ipip", "udp", "vxlan", "wireguard"]
    assert options["cni"]["choices"] == ["flannel", "calico", "canal"]
    assert options["wireguard_mode"]["choices"] == ["separate", "auto", "ipv4", "ipv6"]
