# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: cidr_list
author:
  - kubeforge maintainers (@kubeforge)
short_description: A cluster network given as a list or a comma string, as the list of its CIDRs
version_added: 0.1.0
description:
  - Takes a pod CIDR or service subnet as users give it - one CIDR, a comma string (kubeadm's C(podSubnet)
    spelling) or a list - and returns its CIDRs as a list of strings, blanks dropped. It does not check them; that
    is M(kubeforge.cluster.cidr_problems)'s work.
  - C(| kubeforge.cluster.cidr_list | join(',')) is kubeadm's spelling of the value.
options:
  _input:
    description: The network(s).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: kubeadm's podSubnet from a list or a comma string
  ansible.builtin.debug:
    msg: "podSubnet: {{ pod_cidr | kubeforge.cluster.cidr_list | join(',') }}"

- name: Whether the pod network is dual-stack
  ansible.builtin.debug:
    msg: "{{ pod_cidr | kubeforge.cluster.cidr_list | select('search', ':') | list | length > 0 }}"
"""

RETURN = r"""
_value:
  description: The CIDRs, IPv4 first as given, such as C([10.244.0.0/16, fd00:10:244::/56]).
  type: list
  elements: str
"""

from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import cidr_items


class FilterModule(object):
    def filters(self):
        return {"cidr_list": cidr_items}
