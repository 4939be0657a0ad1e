# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: upgrade_problem
author:
  - kubeforge maintainers (@kubeforge)
short_description: Why a Kubernetes upgrade from one version to another is refused
version_added: 0.5.0
description:
  - Compares the version a cluster runs with the one asked for, the kubeadm way. kubeadm upgrades one minor at a
    time and never downgrades; a kubelet must not be newer than the API server, nor more than three minors older.
  - Returns the empty string when the upgrade (or a patch upgrade, or none) is allowed, else one message that names
    the supported path.
options:
  _input:
    description: The cluster's version (kubeadm-config's C(kubernetesVersion)), with or without the leading V(v).
    type: str
    required: true
  target:
    description: The version asked for.
    type: str
    required: true
  kubelets:
    description: Node name to the version its kubelet reports.
    type: dict
    default: {}
  variable:
    description: The variable that holds O(target), named in the messages.
    type: str
    default: node_install_kubernetes_version
"""

EXAMPLES = r"""
- name: Refuse an upgrade that skips a minor
  ansible.builtin.assert:
    that: problem | length == 0
    fail_msg: "{{ problem }}"
  vars:
    problem: "{{ 'v1.34.4' | kubeforge.cluster.upgrade_problem('1.36.3') }}"
"""

RETURN = r"""
_value:
  description:
    - Empty, or why the upgrade is refused and what to do instead, such as C(v1.34.4 -> v1.36.3 skips 1.35 ...).
  type: str
"""

import re

RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
# The kubelet may be up to three minors older than the API server (Kubernetes' version skew policy since 1.28).
KUBELET_SKEW = 3


def parse(version):
    match = RELEASE.match(str(version).strip())
    return tuple(int(part) for part in match.groups()) if match else None


def show(version):
    return "v%d.%d.%d" % version


def upgrade_problem(current, target, kubelets=None, variable="node_install_kubernetes_version"):
    running, wanted = parse(current), parse(target)
    if wanted is None:
        return "%s=%s is not a Kubernetes release such as 1.36.3." % (variable, target)
    if running is None:
        return "The cluster reports version %r, which is not a Kubernetes release." % (current,)
    if wanted < running:
        return (
            "The cluster runs %s and %s=%s is older: kubeadm does not downgrade. "
            "Set %s to %s (or a newer patch of it), or restore the etcd backup taken before the upgrade."
            % (show(running), variable, target, variable, show(running))
        )
    if wanted[0] != running[0]:
        return "%s -> %s changes the major version, which kubeadm does not upgrade." % (show(running), show(wanted))
    if wanted[1] > running[1] + 1:
        step = "%d.%d" % (running[0], running[1] + 1)
        return (
            "%s -> %s skips %s: kubeadm upgrades one minor at a time. Upgrade to the newest %s patch first "
            "(%s=%s.x), then to %s." % (show(running), show(wanted), step, step, variable, step, show(wanted))
        )
    for node, version in sorted((kubelets or {}).items()):
        kubelet = parse(version)
        if kubelet is None:
            return "Node %s reports kubelet version %r, which is not a Kubernetes release." % (node, version)
        if kubelet > wanted:
            return (
                "Node %s runs kubelet %s, newer than %s=%s: kubeadm does not downgrade a kubelet. "
                "Set %s to %s or newer." % (node, show(kubelet), variable, target, variable, show(kubelet))
            )
        if kubelet[0] != wanted[0] or wanted[1] - kubelet[1] > KUBELET_SKEW:
            return (
                "Node %s runs kubelet %s, more than %d minors older than %s: a kubelet that old cannot join %s. "
                "Upgrade that node to %d.%d first, or remove it (playbooks/remove_node.yml) and join it again."
                % (node, show(kubelet), KUBELET_SKEW, show(wanted), show(wanted), wanted[0], wanted[1] - KUBELET_SKEW)
            )
    return ""


class FilterModule(object):
    def filters(self):
        return {"upgrade_problem": upgrade_problem}
