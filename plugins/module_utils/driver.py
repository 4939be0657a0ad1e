# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface of a CNI family's driver: what the reconciler (runner.py) and cni_info ask of it.

A driver knows how its family keeps the backend and the pod CIDR (Flannel: net-conf.json; Calico:
calico-config, the IPPool and calico-node's probes) and in which order a switch must be written.
Everything else - reading the cluster, the manifest, writing, waiting, reporting - is shared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import cni_spec


class CniDriver:
    # CRDs whose objects the driver writes right after an install, so they must be established first.
    crds = ()
    # Nodes on different backends cannot reach each other: replace all pods at once, not one by one.
    replace_pods_at_once = False
    # Pods of a node share one bridge, which takes the smallest MTU of its ports: pods started on a smaller
    # MTU hold every pod of their node to it after the MTU grows, not only after it shrinks.
    pods_share_a_bridge = False
    # Env vars of the CNI's containers that the driver sets from the request (an upgrade does not carry them).
    managed_env = ()

    def __init__(self, cni):
        self.cni = cni
        self.spec = cni_spec(cni)

    # -- reading: `live` is a live.LiveCluster ----------------------------------------------------
    def read(self, client, live):
        """Read the family's own objects beyond the ConfigMap and the DaemonSet into `live`."""

    def read_for_write(self, client, live):
        """Read what only a change needs (not cni_info)."""

    def live_backend(self, live):
        raise NotImplementedError

    def live_pod_cidr(self, live):
        raise NotImplementedError

    def live_encapsulation(self, live):
        return None

    def started_with(self, configmap):
        """The part of the ConfigMap the CNI pods read once, at start."""
        raise NotImplementedError

    def config_hash(self, configmap):
        """The pod template's record of the configuration its pods were started with."""
        text = json.dumps(self.started_with(configmap), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def check_nodes(self, live, pod_cidr):
        """Refuse nodes the family cannot run on, naming them and the fix."""

    # -- desired state ----------------------------------------------------------------------------
    def desired_configmap(self, configmap, request, pod_cidr, warn):
        raise NotImplementedError

    def desired_daemonset(self, daemonset, request, pod_cidr):
        """The CNI's DaemonSet (a copy) with what the backend needs of its pod template."""
        return daemonset

    # -- writing ----------------------------------------------------------------------------------
    def apply(self, runner, installing):
        """Write the configuration in the order the family needs (runner.py offers the steps)."""
        runner.write_config_and_daemonset()
        runner.wait_for_restart()

    # -- reporting --------------------------------------------------------------------------------
    def report(self, runner, result):
        """Add the family's own fields to cni_config's result."""
