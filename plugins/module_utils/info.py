# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cni_info reports, read through the same LiveCluster and driver that cni_config writes with."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeforge.cluster.plugins.module_utils.calico import felix_features
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import cni_spec, normalize_backend
from ansible_collections.kubeforge.cluster.plugins.module_utils.live import LiveCluster
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import image_tag
from ansible_collections.kubeforge.cluster.plugins.module_utils.runner import CONFIG_HASH
from ansible_collections.kubeforge.cluster.plugins.module_utils.tigera import installation_network
from ansible_collections.kubeforge.cluster.plugins.module_utils.upgrade import release

NODE_FIELDS = ("name", "ready", "kubelet_version", "internal_ip")


def inspect(client, wanted=None):
    """The installed CNI, its version, backend and pod CIDR, node podCIDRs, and drift from `wanted`."""
    live = LiveCluster(client)
    nodes = [
        dict(((field, node[field]) for field in NODE_FIELDS), pod_cidr=",".join(node["pod_cidrs"]) or None)
        for _name, node in sorted(live.nodes.items())
    ]
    info = {
        "cni": live.cni,
        "version": None,
        "pinned_version": cni_spec(live.cni)["version"] if live.cni else None,
        "upgrade_available": False,
        "backend": None,
        "pod_cidr": None,
        "encapsulation": None,
        "kubeadm_pod_subnet": live.kubeadm_subnet,
        "node_pod_cidrs": dict((name, ",".join(cidrs) or None) for name, cidrs in live.node_pod_cidrs().items()),
        "nodes": nodes,
        "pods_run_current_config": None,
        "managed_by": "tigera-operator" if live.installer == "operator" else None,
        "wireguard": None,
        "drift": [],
    }
    driver = live.driver
    if driver is not None and live.daemonset is not None:
        info["version"] = image_tag(live.daemonset, driver.spec["version_container"])
        installed, pinned = release(info["version"]), release(info["pinned_version"])
        info["upgrade_available"] = bool(installed and pinned and pinned > installed)
    if live.installer == "operator":
        info.update(installation_network(live.installation))
        info["wireguard"] = felix_features(live.felix)["wireguard"]
        if info["version"] is None:
            info["version"] = ((live.installation or {}).get("status") or {}).get("calicoVersion")
    elif driver is not None and live.daemonset is not None:
        info["backend"] = driver.live_backend(live)
        info["pod_cidr"] = driver.live_pod_cidr(live)
        info["encapsulation"] = driver.live_encapsulation(live)
        if driver.spec["networking"] == "calico":
            info["wireguard"] = felix_features(live.felix)["wireguard"]
        annotations = (live.daemonset["spec"]["template"].get("metadata") or {}).get("annotations") or {}
        if CONFIG_HASH in annotations:
            info["pods_run_current_config"] = annotations[CONFIG_HASH] == driver.config_hash(live.configmap)
    info["drift"] = drift(info, wanted or {})
    return info


def drift(info, wanted):
    found = []
    for key, value in sorted(wanted.items()):
        if value is None:
            continue
        live = info.get(key)
        wanted_value = normalize_backend(info["cni"], value) if key == "backend" and info["cni"] else value
        if live != wanted_value:
            found.append({"field": key, "wanted": wanted_value, "live": live})
    return found
