#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cni_info
short_description: Report the installed CNI, its version, backend and pod CIDR, and drift from what is wanted
version_added: 0.1.0
description:
  - Finds which of Flannel, Calico and Canal is installed and reports its version, backend, pod CIDR,
    kubeadm's C(networking.podSubnet) and every node's C(spec.podCIDR).
  - With O(cni), O(backend) or O(pod_cidr) given, lists where the cluster differs from them.
  - Reads only; never changes anything.
  - Warns when the CNI is Flannel and NetworkPolicy objects exist, since Flannel enforces none of them
    (Canal does).
author:
  - kubeforge maintainers (@kubeforge)
extends_documentation_fragment:
  - kubeforge.cluster.kube_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the cluster.
    support: full
    details: The module only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode).
    support: none
options:
  cni:
    description: The CNI wanted, to report drift against.
    type: str
    choices: [flannel, calico, canal]
  backend:
    description: The backend wanted, to report drift against (C(bird) counts as C(bgp)).
    type: str
    choices: [bgp, bird, host-gw, ipip, udp, vxlan, wireguard]
  pod_cidr:
    description:
      - The pod CIDR wanted, to report drift against; one IPv4 network, or an IPv4 and an IPv6 network (a list or a
        comma string), as M(kubeforge.cluster.cni_config) takes it.
    type: list
    elements: str
seealso:
  - module: kubeforge.cluster.cni_config
"""

EXAMPLES = r"""
- name: What runs, and does it match the inventory?
  kubeforge.cluster.cni_info:
    cni: "{{ cni }}"
    backend: "{{ cni_backend }}"
  register: cni_state

- name: Fail on drift
  ansible.builtin.assert:
    that: cni_state.drift | length == 0
    fail_msg: "{{ cni_state.drift }}"
"""

RETURN = r"""
cni:
  description: The CNI found, or null.
  returned: always
  type: str
  sample: flannel
version:
  description: Its version (the tag of its main image).
  returned: always
  type: str
  sample: v0.28.9
pinned_version:
  description: The version of that CNI this collection pins (and installs when no version is given).
  returned: always
  type: str
  sample: v0.28.9
upgrade_available:
  description:
    - Whether the pinned version is newer than the installed one
      (M(kubeforge.cluster.cni_config) with its C(version) option upgrades).
  returned: always
  type: bool
  sample: false
backend:
  description: Its backend (Calico - bgp, ipip or vxlan, from calico-config and the default IPPool).
  returned: always
  type: str
  sample: vxlan
encapsulation:
  description: Calico's IPPool mode for its backend.
  returned: always
  type: str
pod_cidr:
  description:
    - The CNI's pod network (Flannel C(Network), Calico default IPPool C(cidr)); on a dual-stack cluster both
      networks, comma-joined, IPv4 first (Flannel C(IPv6Network), Calico's IPv6 pool).
  returned: always
  type: str
  sample: 10.244.0.0/16,fd00:10:244::/56
kubeadm_pod_subnet:
  description: kubeadm's C(networking.podSubnet) from the kubeadm-config ConfigMap (both families, comma-joined).
  returned: always
  type: str
node_pod_cidrs:
  description: Every node's C(spec.podCIDRs), comma-joined (null for a node without one).
  returned: always
  type: dict
  sample: {node-1: "10.244.0.0/24,fd00:10:244::/64"}
nodes:
  description: Every node, with its Ready condition, kubelet version, InternalIP address and C(spec.podCIDRs)
    (comma-joined).
  returned: always
  type: list
  elements: dict
  sample: [{name: node-1, ready: true, kubelet_version: v1.36.3, internal_ip: 10.0.0.11, pod_cidr: 10.244.0.0/24}]
wireguard:
  description: Calico only - whether WireGuard encryption is on (FelixConfiguration default C(wireguardEnabled)).
  returned: always
  type: bool
managed_by:
  description:
    - C(tigera-operator) when Calico was installed by the Tigera operator (its Installation C(default), its Deployment
      tigera-operator/tigera-operator or its DaemonSet calico-system/calico-node); backend, encapsulation and pod CIDR
      are then read from the Installation, the version from calico-node's image or the Installation's status.
      Null for a manifest install.
    - M(kubeforge.cluster.cni_config) configures such an install through the Installation, never the objects the
      operator owns.
  returned: always
  type: str
pods_run_current_config:
  description:
    - Whether the CNI pods were started with the configuration the ConfigMap holds now; null when
      the CNI was not configured by cni_config (it then cannot tell).
  returned: always
  type: bool
drift:
  description: Where the cluster differs from O(cni), O(backend) and O(pod_cidr).
  returned: always
  type: list
  elements: dict
  sample: [{field: backend, wanted: vxlan, live: host-gw}]
api_requests:
  description: API requests this run made, by kind.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.kubeforge.cluster.plugins.module_utils.client import KubeClient
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import KubeforgeError
from ansible_collections.kubeforge.cluster.plugins.module_utils.info import inspect
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeconfig import (
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.module_args import cni_info_argument_spec
from ansible_collections.kubeforge.cluster.plugins.module_utils.netpol import networkpolicy_warning
from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import canonical


def main():
    module = AnsibleModule(argument_spec=cni_info_argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    params = module.params
    try:
        client = KubeClient(params["kubeconfig"], params["context"])
        pod_cidr = canonical(params["pod_cidr"], "pod_cidr") if params["pod_cidr"] else None
        wanted = {"cni": params["cni"], "backend": params["backend"], "pod_cidr": pod_cidr}
        info = inspect(client, wanted)
        warning = networkpolicy_warning(client, info["cni"])
    except KubeforgeError as exc:
        module.fail_json(msg=str(exc))
    if warning:
        module.warn(warning)
    module.exit_json(changed=False, api_requests=client.requests, **info)


if __name__ == "__main__":
    main()
