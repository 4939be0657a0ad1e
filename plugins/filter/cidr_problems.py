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
    and returns one message per value that kubeadm would refuse or the cluster could not use, and per pair that
    overlaps.
  - A value is one IPv4 network, or an IPv4 and an IPv6 network (dual stack) as a list or a comma string, IPv4
    first. A pod network must hold whole node subnets (a /24 per node for IPv4, a /64 for IPv6) and at most 2^16 of
    them; a service subnet spans at most 20 bits (/12 for IPv4, /108 for IPv6), as kubeadm checks.
options:
  _input:
    description: Variable name to CIDR (a str or a list), in the order the messages should name them.
    type: dict
    required: true
  services:
    description: The names in O(_input) that are service subnets (their size limit differs from a pod network's).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse a pod CIDR inside the service subnet
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    networks: {pod_cidr: 10.96.0.0/16, services: 10.96.0.0/12}
    problems: "{{ networks | kubeforge.cluster.cidr_problems(services=['services']) }}"

- name: A dual-stack pod network and service subnet
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    networks:
      pod_cidr: [10.244.0.0/16, "fd00:10:244::/56"]
      service_subnet: 10.96.0.0/12,fd00:10:96::/112
    problems: "{{ networks | kubeforge.cluster.cidr_problems(services=['service_subnet']) }}"
"""

RETURN = r"""
_value:
  description:
    - One message per problem, such as
      C(pod_cidr 10.96.0.0/16 overlaps kubeadm_init_service_subnet 10.96.0.0/12; give them disjoint ranges).
  type: list
  elements: str
"""

from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import network_problems


def cidr_problems(networks, services=()):
    return network_problems(networks, services)


class FilterModule(object):
    def filters(self):
        return {"cidr_problems": cidr_problems}
