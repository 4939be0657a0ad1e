# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the modules, derived from the CNI matrix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    ALL_BACKENDS,
    CALICO_ENCAPSULATION_MODES,
    CALICO_INSTALLERS,
    CALICO_OPTIONS,
    CNI_NAMES,
    FLANNEL_OPTIONS,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import DEFAULT_WAIT_TIMEOUT, RESTART_CHOICES

# cni_verify's defaults. Here, not in verify.py: Ansible packs every module_utils file a module imports into its
# payload, and cni_config, which needs none of verify.py, would carry it.
# Kubernetes v1.36's e2e tests pin this agnhost (test/utils/image/manifest.go); Alpine 3.21 with busybox.
DEFAULT_PROBE_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.63.0"
DEFAULT_NAMESPACE = "kubeforge-verify"
DEFAULT_MAX_PAIRS = 50
DEFAULT_TIMEOUT = 120

KUBE_AUTH_ARGS = {
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
}


def cni_config_argument_spec():
    spec = {
        "cni": {"type": "str", "required": True, "choices": list(CNI_NAMES)},
        "backend": {"type": "str", "choices": list(ALL_BACKENDS)},
        # No choices: `ipip`, the value popular write-ups use, gets an error that names the fix.
        "calico_backend": {"type": "str"},
        # A list, so that a comma string (kubeadm's podSubnet spelling) and a YAML list both arrive split.
        "pod_cidr": {"type": "list", "elements": "str"},
        "state": {"type": "str", "default": "present", "choices": ["present"]},
        "version": {"type": "str"},
        "allow_downgrade": {"type": "bool", "default": False},
        "installer": {"type": "str", "choices": list(CALICO_INSTALLERS)},
        "manifest_url": {"type": "str"},
        "manifest_sha256": {"type": "str"},
        "manifest_path": {"type": "path"},
        "manifest_mirror": {"type": "path"},
        "image_registry": {"type": "str"},
        "encapsulation": {"type": "str", "choices": list(CALICO_ENCAPSULATION_MODES)},
        "restart": {"type": "str", "default": "auto", "choices": list(RESTART_CHOICES)},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": DEFAULT_WAIT_TIMEOUT},
    }
    spec.update(flannel_option_specs())
    # mtu is accepted here only to be refused naming its own option; Ansible refuses every other unknown key.
    backend_options = flannel_option_specs()
    backend_options["encapsulation"] = dict(spec["encapsulation"])
    for name in CALICO_OPTIONS:
        spec[name] = {"type": "bool"}
        backend_options[name] = {"type": "bool"}
    spec["backend_options"] = {"type": "dict", "options": backend_options}
    spec["node_address"] = {"type": "str"}
    spec["node_mtu"] = {"type": "int"}
    spec["validate_only"] = {"type": "bool", "default": False}
    spec.update(KUBE_AUTH_ARGS)
    return spec


def flannel_option_specs():
    """mtu, vni, port, … as module options; mtu is Calico's veth_mtu too."""
    specs = {}
    for name, option in FLANNEL_OPTIONS.items():
        spec = {"type": option["type"]}
        if option.get("secret"):
            spec["no_log"] = True
        if "choices" in option:
            spec["choices"] = list(option["choices"])
        specs[name] = spec
    return specs


CNI_CONFIG_MUTUALLY_EXCLUSIVE = [
    ("manifest_url", "manifest_path", "manifest_mirror"),
    ("backend", "calico_backend"),
]


def cni_info_argument_spec():
    spec = {
        "cni": {"type": "str", "choices": list(CNI_NAMES)},
        "backend": {"type": "str", "choices": list(ALL_BACKENDS)},
        "pod_cidr": {"type": "list", "elements": "str"},
    }
    spec.update(KUBE_AUTH_ARGS)
    return spec


def cni_verify_argument_spec():
    spec = {
        "namespace": {"type": "str", "default": DEFAULT_NAMESPACE},
        "probe_image": {"type": "str", "default": DEFAULT_PROBE_IMAGE},
        "image_registry": {"type": "str"},
        "image_pull_policy": {"type": "str", "default": "IfNotPresent", "choices": ["Always", "IfNotPresent", "Never"]},
        "max_pairs": {"type": "int", "default": DEFAULT_MAX_PAIRS},
        "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
        "check_mtu": {"type": "bool", "default": True},
    }
    spec.update(KUBE_AUTH_ARGS)
    return spec
