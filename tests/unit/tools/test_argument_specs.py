"""The CNI roles' argument specs are what tools/gen_argument_specs.py writes from the matrix, and agree with the
roles' defaults."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import gen_argument_specs as gen
import pytest
import yaml

ROLES = gen.REPO / "roles"
GENERATED = ["flannel", "calico", "canal", "cni", "cni_backend"]


def test_committed_specs_are_exactly_what_the_generator_writes():
    stale = [str(path) for path, text in gen.rendered_files().items() if path.read_text() != text]
    assert stale == [], "run `make argument-specs` and commit the result"
    assert sorted(path.parent.parent.name for path in gen.rendered_files()) == sorted(GENERATED)


def test_the_yaml_reads_back_as_the_table():
    matrix = gen.load_matrix()
    for role, spec in gen.specs(matrix).items():
        loaded = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
        assert loaded == {"argument_specs": spec}, role


def test_choices_follow_the_matrix_including_a_backend_added_to_it():
    matrix = gen.load_matrix()
    cnis = copy.deepcopy(matrix.CNIS)
    for cni in ("flannel", "canal"):
        cnis[cni]["backends"] = {**cnis[cni]["backends"], "ipsec": {}}
    grown = SimpleNamespace(
        CNIS=cnis,
        CNI_NAMES=matrix.CNI_NAMES,
        CALICO_BACKEND_ALIASES={"bird": "bgp"},
        CALICO_INSTALLERS=matrix.CALICO_INSTALLERS,
    )
    specs = gen.specs(grown)
    for cni in ("flannel", "canal"):
        assert specs[cni]["main"]["options"]["cni_backend"]["choices"] == [*matrix.CNIS[cni]["backends"], "ipsec"]
    assert specs["calico"]["main"]["options"]["cni_backend"]["choices"] == [*matrix.CNIS["calico"]["backends"], "bird"]
    assert (
        "flannel/canal - vxlan, host-gw, wireguard, udp, ipip, ipsec"
        in (specs["cni_backend"]["main"]["options"]["cni_backend"]["description"][0])
    )


@pytest.mark.parametrize("role", GENERATED)
def test_spec_defaults_are_the_cni_roles_defaults(role):
    """flannel, calico, canal and cni_backend run the cni role: its defaults are theirs."""
    cni_defaults = yaml.safe_load((ROLES / "cni" / "defaults" / "main.yml").read_text())
    options = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"][
        "options"
    ]
    for name, option in options.items():
        if "default" in option:
            assert cni_defaults[name] == option["default"], (role, name)
        else:  # templated from the play's variables (cni, pod_cidr) or unset
            assert name not in cni_defaults or "{{" in str(cni_defaults[name]), (role, name)


def test_every_default_is_a_documented_option():
    defaults = yaml.safe_load((ROLES / "cni" / "defaults" / "main.yml").read_text())
    options = yaml.safe_load((ROLES / "cni" / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"][
        "options"
    ]
    assert set(defaults) <= set(options)
    for name, value in defaults.items():
        assert options[name].get("default", value) == value, name


def test_check_mode_reports_a_drifted_file(tmp_path, monkeypatch):
    target = tmp_path / "roles" / "flannel" / "meta"
    target.mkdir(parents=True)
    (target / "argument_specs.yml").write_text("---\n")
    matrix = gen.load_matrix()
    monkeypatch.setattr(gen, "load_matrix", lambda: matrix)
    monkeypatch.setattr(gen, "ROLES", tmp_path / "roles")
    monkeypatch.setattr(gen, "REPO", tmp_path)
    for role in GENERATED[1:]:
        (tmp_path / "roles" / role / "meta").mkdir(parents=True)
    assert gen.main(["--check"]) == 1
    assert (target / "argument_specs.yml").read_text() == "---\n"
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
