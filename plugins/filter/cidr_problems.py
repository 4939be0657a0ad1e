# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: cidr_problems
author:
  - kubeforge maintainers (@kubeforge)
short_description: What is wrong with a cluster's networks, one message each
version_added: 0.3.0
description:
  - Takes the networks a cluster is built with (the pod CIDR, the service subnet), named as the user sets them,
    and returns one message per value that is not an IPv4 network CIDR and per pair that overlaps.
options:
  _input:
    description: Variable name to CIDR, in the order the messages should name them.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse a pod CIDR inside the service subnet
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ {'pod_cidr': '10.96.0.0/16', 'services': '10.96.0.0/12'} | kubeforge.cluster.cidr_problems }}"
"""

RETURN = r"""
_value:
  description:
    - One message per problem, such as
      C(pod_cidr 10.96.0.0/16 overlaps kubeadm_init_service_subnet 10.96.0.0/12; give them disjoint ranges).
  type: list
  elements: str
"""

from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import ipv4_network


def cidr_problems(networks):
    problems = []
    valid = []
    for name, value in networks.items():
        try:
            valid.append((name, ipv4_network(str(value), name)))
        except InputError as exc:
            problems.append(str(exc))
    for index, (name, network) in enumerate(valid):
        for other, other_network in valid[index + 1 :]:
            if network.overlaps(other_network):
                problems.append(
                    "%s %s overlaps %s %s; give them disjoint ranges" % (name, network, other, other_network)
                )
    return problems


class FilterModule(object):
    def filters(self):
        return {"cidr_problems": cidr_problems}
