# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting through watches, never polling: a CRD established, a DaemonSet's pods all replaced."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import WaitTimeout

CRD_TIMEOUT = 60


def rolled_out(daemonset):
    status = daemonset.get("status") or {}
    desired = status.get("desiredNumberScheduled", 0)
    return (
        status.get("observedGeneration", 0) >= daemonset["metadata"].get("generation", 0)
        and status.get("updatedNumberScheduled", 0) == desired
        and status.get("numberAvailable", 0) == desired
        and not status.get("numberUnavailable")
    )


def pod_ready(pod):
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_node(pod):
    """The node of a pod; of one not yet scheduled, the node its DaemonSet pinned it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and field.get("values"):
                return field["values"][0]
    return None


def lagging_nodes(pods, old_pods, nodes):
    """Nodes without a new, ready CNI pod, of those the DaemonSet runs on."""
    old_uids = set(pod["metadata"]["uid"] for pod in old_pods)
    fresh = set(pod_node(pod) for pod in pods if pod["metadata"]["uid"] not in old_uids and pod_ready(pod))
    # Where its controller placed a pod, before or now, the DaemonSet runs: that takes in its nodeSelector,
    # affinity and tolerations, so a node it never runs on (Windows, under a Linux CNI) is not named. With
    # no pod at all to go by (none could be created), every node is lagging.
    placed = set(pod_node(pod) for pod in list(old_pods) + list(pods)) - set([None])
    return sorted(node for node in placed or nodes if node not in fresh)


def watch_until(
    client, api_version, kind, predicate, timeout, namespace=None, field_selector=None, label_selector=None
):
    """List, then watch from that list's resourceVersion until predicate(objects by uid) holds."""
    selectors = {"field_selector": field_selector, "label_selector": label_selector}
    deadline = time.time() + timeout
    while True:
        items, version = client.list_with_version(api_version, kind, namespace, **selectors)
        objects = dict((obj["metadata"]["uid"], obj) for obj in items)
        if predicate(objects):
            return True
        remaining = deadline - time.time()
        if remaining <= 0:
            return False
        for event, obj in client.watch(
            api_version, kind, namespace, timeout=remaining, resource_version=version, **selectors
        ):
            if event == "EXPIRED":
                break  # the objects may have changed unseen: list them again
            if event == "DELETED":
                objects.pop(obj["metadata"]["uid"], None)
            else:
                objects[obj["metadata"]["uid"]] = obj
            if predicate(objects):
                return True
        else:
            return False


def wait_crd_established(client, name, timeout=CRD_TIMEOUT):
    def established(crds):
        conditions = [c for crd in crds.values() for c in (crd.get("status") or {}).get("conditions") or []]
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    found = watch_until(
        client,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        established,
        timeout,
        field_selector="metadata.name=%s" % name,
    )
    if not found:
        raise WaitTimeout("CRD %s was not established within %ss; check the API server's log" % (name, timeout))


def wait_pods_replaced(client, spec, old_pods, nodes, timeout):
    """Wait until the CNI's DaemonSet has rolled out and no pod of before the change is left."""
    namespace = spec["namespace"]
    old_uids = set(pod["metadata"]["uid"] for pod in old_pods)
    started = time.time()
    final = {}

    def daemonset_done(items):
        final.update(next((ds for ds in items.values() if rolled_out(ds)), {}))
        return bool(final)

    done = watch_until(
        client,
        "apps/v1",
        "DaemonSet",
        daemonset_done,
        timeout,
        namespace=namespace,
        field_selector="metadata.name=%s" % spec["daemonset"],
    )
    if done:
        wanted = final["status"].get("desiredNumberScheduled", 0)

        def pods_replaced(pods):
            fresh = [p for p in pods.values() if p["metadata"]["uid"] not in old_uids and pod_ready(p)]
            return len(fresh) >= wanted and not any(uid in old_uids for uid in pods)

        remaining = max(1, timeout - (time.time() - started))
        done = watch_until(
            client, "v1", "Pod", pods_replaced, remaining, namespace=namespace, label_selector=spec["pod_selector"]
        )
    if not done:
        pods = client.list("v1", "Pod", namespace, label_selector=spec["pod_selector"])
        raise WaitTimeout(
            "%s did not finish restarting within %ss; nodes without a new ready pod: %s"
            % (
                spec["daemonset"],
                timeout,
                ", ".join(lagging_nodes(pods, old_pods, nodes)) or "(none; old pods still terminating)",
            )
        )
