# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkPolicy objects that nothing enforces: Flannel alone implements none of them (Canal does)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

NETWORKPOLICY_API = ("networking.k8s.io/v1", "NetworkPolicy")
SHOWN_NAMESPACES = 10


def unenforced_networkpolicy_warning(cni, policies):
    """A warning when the installed CNI is Flannel (its own DaemonSet, not Canal's) and NetworkPolicy
    objects exist, naming how many and in which namespaces; None otherwise.

    cni: LiveCluster(...).cni; policies: the NetworkPolicy objects of every namespace."""
    if cni != "flannel" or not policies:
        return None
    counts = {}
    for policy in policies:
        namespace = (policy.get("metadata") or {}).get("namespace") or "default"
        counts[namespace] = counts.get(namespace, 0) + 1
    names = sorted(counts)
    shown = ", ".join("%s (%d)" % (name, counts[name]) for name in names[:SHOWN_NAMESPACES])
    if len(names) > SHOWN_NAMESPACES:
        shown += " and %d more namespaces" % (len(names) - SHOWN_NAMESPACES)
    return (
        "%d NetworkPolicy object%s exist%s in %s, but Flannel does not enforce NetworkPolicy: "
        "all pod traffic is allowed. "
        "Install Canal (cni=canal: Flannel's networking with Calico's policy engine) to enforce them"
        % (len(policies), "" if len(policies) == 1 else "s", "s" if len(policies) == 1 else "", shown)
    )


def networkpolicy_warning(client, cni):
    """The warning for the live cluster; lists NetworkPolicies only where the CNI is Flannel."""
    if cni != "flannel":
        return None
    return unenforced_networkpolicy_warning(cni, client.list(*NETWORKPOLICY_API))
