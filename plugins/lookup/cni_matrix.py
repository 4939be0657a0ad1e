# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: cni_matrix
author:
  - kubeforge maintainers (@kubeforge)
short_description: Defaults and allowed values of a CNI, from the collection's CNI matrix
version_added: 0.1.0
description:
  - Returns, for each CNI name, its default pod CIDR, default backend, backends, pinned version and the
    ports each backend needs, so that roles take them from the one table the modules use.
options:
  _terms:
    description: CNI names (flannel, calico, canal); none for every CNI.
    required: false
    type: list
    elements: str
  options:
    description:
      - The backend options given to the roles (C(cni_backend_options)); Calico's C(wireguard) adds its port and
        kernel feature to RV(_raw[].option_ports) and RV(_raw[].option_kernel).
    type: dict
    default: {}
  installer:
    description:
      - How Calico is installed (the roles' C(cni_installer)) - C(manifest), C(operator) or empty (the manifest);
        C(operator) adds Typha's C(5473/tcp) to RV(_raw[].installer_ports).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The pod CIDR Calico needs when none is given
  ansible.builtin.debug:
    msg: "{{ lookup('kubeforge.cluster.cni_matrix', 'calico').default_pod_cidr }}"
"""

RETURN = r"""
_raw:
  description: One dict per CNI.
  type: list
  elements: dict
  contains:
    name:
      description: The CNI.
      type: str
    default_pod_cidr:
      description: Its default pod CIDR.
      type: str
    default_backend:
      description: Its default backend.
      type: str
    backends:
      description: Its backends, Calico's alias bird included.
      type: list
      elements: str
    version:
      description: The pinned upstream version.
      type: str
    ports:
      description:
        - Ports per backend name (aliases included), such as C(8472/udp), C(179/tcp), or C(ipip) for IP protocol 4.
      type: dict
    kernel:
      description:
        - Kernel features per backend name (aliases included) that every node needs, such as C(vxlan), C(tun),
          C(wireguard), C(ipip).
      type: dict
    node_kernel:
      description: Kernel features every node needs whatever the backend (C(overlay), C(br_netfilter)).
      type: list
      elements: str
    option_ports:
      description: Ports the options turned on in O(options) need (Calico C(wireguard) - C(51820/udp)).
      type: list
      elements: str
    option_kernel:
      description: Kernel features the options turned on in O(options) need (Calico C(wireguard) - C(wireguard)).
      type: list
      elements: str
    installer_ports:
      description: Ports the way of installing in O(installer) needs (the operator's Typha - C(5473/tcp)).
      type: list
      elements: str
    node_cidr_mask_sizes:
      description:
        - The size of each node's share of the pod network per family - C(ipv4) 24 and C(ipv6) 64, kubeadm's
          controller-manager C(node-cidr-mask-size-ipv4) and C(-ipv6).
      type: dict
    dual_stack_backends:
      description: The backends that carry IPv6 pods beside IPv4 ones (empty where the CNI is not built for it here).
      type: list
      elements: str
    namespace:
      description: The namespace of its DaemonSet, as its manifest installs it.
      type: str
    daemonset:
      description: Its DaemonSet.
      type: str
    pod_selector:
      description: The label selector of its pods (C(app=flannel), C(k8s-app=calico-node), C(k8s-app=canal)).
      type: str
    node_leftovers:
      description:
        - What it leaves on a node that C(kubeadm reset) does not remove - C(links), shell patterns of link names
          (C(cni0), C(flannel*)), and C(paths), directories whose contents go (C(/etc/cni/net.d)).
      type: dict
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    CALICO_OPTIONS,
    CNI_NAMES,
    NODE_CIDR_MASK_SIZES,
    NODE_KERNEL_FEATURES,
    NODE_LEFTOVER_PATHS,
    backend_names,
    backend_spec,
    cni_spec,
    installer_ports,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        # The backend options a role was given (cni_backend_options): Calico's wireguard needs ports and kernel too.
        options = kwargs.get("options") or {}
        entries = []
        for name in terms or CNI_NAMES:
            try:
                spec = cni_spec(name)
                ports_of_installer = installer_ports(name, kwargs.get("installer"))
            except InputError as exc:
                raise AnsibleError(str(exc)) from None
            backends = backend_names(name)
            entries.append(
                {
                    "name": name,
                    "default_pod_cidr": spec["default_pod_cidr"],
                    "default_backend": spec["default_backend"],
                    "backends": backends,
                    "version": spec["version"],
                    "ports": dict((backend, list(backend_spec(name, backend)["ports"])) for backend in backends),
                    "kernel": dict((backend, list(backend_spec(name, backend)["kernel"])) for backend in backends),
                    "node_kernel": list(NODE_KERNEL_FEATURES),
                    "option_ports": option_needs(name, options, "ports"),
                    "option_kernel": option_needs(name, options, "kernel"),
                    "installer_ports": ports_of_installer,
                    "node_cidr_mask_sizes": dict(NODE_CIDR_MASK_SIZES),
                    "namespace": spec["namespace"],
                    "daemonset": spec["daemonset"],
                    "pod_selector": spec["pod_selector"],
                    "node_leftovers": {"links": list(spec["node_links"]), "paths": list(NODE_LEFTOVER_PATHS)},
                    "dual_stack_backends": [
                        backend
                        for backend in backends
                        if not spec.get("no_dual_stack") and backend_spec(name, backend)["ipv6"]
                    ],
                }
            )
        return entries


def option_needs(cni, options, need):
    """What the Calico options turned on in `options` need (their ports or kernel features)."""
    if cni != "calico":
        return []
    return [item for name, option in CALICO_OPTIONS.items() if options.get(name) for item in option[need]]
