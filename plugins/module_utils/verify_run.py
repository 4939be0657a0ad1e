# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cni_verify's run: probe pods on every node, in one labelled namespace that is always deleted again.

Reads the nodes, removes what an interrupted run left, starts a target pod (HTTP on 8080) per node and,
once they are ready, a prober on the pod network and one on the host network per node, which print their
findings and exit; their logs are the result. Waiting is by watch (waiter.watch_until), never polling."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.kubeforge.cluster.plugins.module_utils import verify
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import (
    InputError,
    KubeforgeError,
    LiveStateError,
    WaitTimeout,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.live import LiveCluster
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import replace_registry
from ansible_collections.kubeforge.cluster.plugins.module_utils.module_args import (
    DEFAULT_MAX_PAIRS,
    DEFAULT_NAMESPACE,
    DEFAULT_PROBE_IMAGE,
    DEFAULT_TIMEOUT,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.netpol import networkpolicy_warning
from ansible_collections.kubeforge.cluster.plugins.module_utils.waiter import pod_ready, watch_until

CLEANUP_WAIT = 10  # seconds to watch the namespace go away at the end; the next run removes it anyway
LABEL_SELECTOR = ",".join("%s=%s" % item for item in sorted(verify.NAMESPACE_LABELS.items()))


class VerifyFailed(KubeforgeError):
    """The data plane failed checks; `result` is the full report."""

    def __init__(self, message, result):
        super(VerifyFailed, self).__init__(message)
        self.result = result


def empty_result(nodes, reason):
    return {
        "verified": False,
        "reason": reason,
        "nodes": nodes,
        "pod_mtu": {},
        "pairs": [],
        "sampled": False,
        "pairs_checked": 0,
        "pairs_total": 0,
        "service": None,
        "checks": 0,
        "failures": [],
        "cleaned_up": None,
        "timings": {},
    }


class Verifier:
    def __init__(self, client, params, check_mode=False):
        self.client = client
        self.namespace = params.get("namespace") or DEFAULT_NAMESPACE
        image = params.get("probe_image") or DEFAULT_PROBE_IMAGE
        if params.get("image_registry"):
            if not params["image_registry"].strip("/"):
                raise InputError("image_registry is empty; give a registry such as registry.example.com/mirror")
            image = replace_registry(image, params["image_registry"])
        self.image = image
        self.pull_policy = params.get("image_pull_policy") or "IfNotPresent"
        self.max_pairs = params.get("max_pairs") or DEFAULT_MAX_PAIRS
        if self.max_pairs < 1:
            raise InputError("max_pairs=%s: give at least 1" % self.max_pairs)
        self.timeout = params.get("timeout") or DEFAULT_TIMEOUT
        self.check_mtu = params.get("check_mtu", True)
        self.check_mode = check_mode
        self.warnings = []

    # -- what the cluster is ------------------------------------------------------------------------
    def read(self):
        try:
            live = LiveCluster(self.client)
        except LiveStateError as exc:
            self.warnings.append("cannot tell the installed CNI: %s" % exc)
            self.cni = None
            return self.client.list("v1", "Node")
        self.cni = live.cni
        warning = networkpolicy_warning(self.client, live.cni)
        if warning:
            self.warnings.append(warning)
        return live.node_objects

    def run(self):
        nodes = self.read()
        names = sorted(node["metadata"]["name"] for node in nodes)
        fake = [node["metadata"]["name"] for node in nodes if verify.is_fake_node(node)]
        if fake:
            reason = (
                "nodes %s are kwok's fake nodes (annotation %s=fake): they have no data plane, so the pod network "
                "cannot be verified here" % (", ".join(sorted(fake)), verify.KWOK_ANNOTATION)
            )
            self.warnings.append(reason)
            return empty_result(names, reason)
        if not names:
            reason = "the cluster has no nodes"
            self.warnings.append(reason)
            return empty_result(names, reason)
        if self.check_mode:
            reason = "check mode: cni_verify starts probe pods to verify the pod network, so it does not run"
            self.warnings.append(reason)
            return empty_result(names, reason)
        not_ready = sorted(node["metadata"]["name"] for node in nodes if not verify.node_ready(node))
        probed = [name for name in names if name not in not_ready]
        started = time.time()
        self.deadline = started + self.timeout
        self.timings = {}
        self.remove_leftovers()
        self.lap("leftovers", started)
        try:
            result = self.probe(names, probed)
        finally:
            mark = time.time()
            cleaned_up = self.cleanup()
            self.lap("cleanup", mark)
        result["cleaned_up"] = cleaned_up
        self.lap("total", started)
        result["timings"] = self.timings
        for name in not_ready:
            result["failures"].insert(0, "%s: node is not Ready (not probed)" % name)
        if result["failures"]:
            result["verified"] = False
            result["reason"] = verify.failure_message(result["failures"], result["checks"])
            raise VerifyFailed(result["reason"], result)
        return result

    def lap(self, name, since):
        self.timings[name] = round(time.time() - since, 2)

    # -- the namespace ------------------------------------------------------------------------------
    def remaining(self):
        left = self.deadline - time.time()
        if left <= 0:
            raise WaitTimeout("cni_verify's timeout of %ss has passed" % self.timeout)
        return left

    def remove_leftovers(self):
        existing = self.client.get("v1", "Namespace", self.namespace)
        if existing is not None:
            labels = existing["metadata"].get("labels") or {}
            if any(labels.get(key) != value for key, value in verify.NAMESPACE_LABELS.items()):
                raise InputError(
                    "namespace %s exists and is not cni_verify's (labels %s); pass another namespace="
                    % (self.namespace, LABEL_SELECTOR)
                )
        leftovers = self.client.list("v1", "Namespace", label_selector=LABEL_SELECTOR)
        if not leftovers:
            return
        for namespace in leftovers:
            if not namespace["metadata"].get("deletionTimestamp"):
                self.client.delete("v1", "Namespace", namespace["metadata"]["name"])
        gone = watch_until(
            self.client, "v1", "Namespace", lambda items: not items, self.remaining(), label_selector=LABEL_SELECTOR
        )
        if not gone:
            raise WaitTimeout(
                "namespaces %s of an earlier cni_verify run are still terminating after %ss"
                % (", ".join(n["metadata"]["name"] for n in leftovers), self.timeout)
            )

    def cleanup(self):
        """Delete the namespace (always); True once it is gone, None if it is still terminating."""
        self.client.delete("v1", "Namespace", self.namespace)
        try:
            gone = watch_until(
                self.client,
                "v1",
                "Namespace",
                lambda items: not items,
                CLEANUP_WAIT,
                field_selector="metadata.name=%s" % self.namespace,
            )
        except KubeforgeError:
            gone = False
        return True if gone else None

    # -- the probes ---------------------------------------------------------------------------------
    def create(self, obj):
        return self.client.create(obj)

    def probe(self, names, probed):
        result = empty_result(names, None)
        pairs, total = verify.sample_pairs(probed, self.max_pairs)
        if len(probed) == 1:
            pairs = [(probed[0], probed[0])]  # one node: its own pod-to-pod path is all there is
        index = dict((name, i) for i, name in enumerate(names))
        self.create(verify.namespace_object(self.namespace))
        service_ip = None
        if self.kube_proxy_runs():
            service = self.create(verify.service_object(self.namespace))
            service_ip = service["spec"].get("clusterIP")
        else:
            self.warnings.append("no kube-proxy DaemonSet in kube-system: the pod -> ClusterIP check is skipped")
        for name in probed:
            self.create(verify.target_pod(self.namespace, name, index[name], self.image, self.pull_policy))
        mark = time.time()
        targets = self.wait_targets(probed)
        self.lap("targets_ready", mark)
        plan = verify.probe_plan(pairs, targets)
        attempts = min(len(probed), 3)
        probers = []
        for name in probed:
            for host_network in (False, True):
                addresses = [(index[step[0]], step[2]) for step in plan[(name, host_network)] if step[2]]
                pod = verify.prober_pod(
                    self.namespace,
                    name,
                    index[name],
                    self.image,
                    self.pull_policy,
                    addresses,
                    None if host_network else service_ip,
                    host_network,
                    attempts,
                    self.check_mtu,
                )
                probers.append((name, host_network, self.create(pod)["metadata"]["name"]))
        mark = time.time()
        self.wait_probers()
        self.lap("probes", mark)
        for source, host_network, pod_name in probers:
            found = verify.parse_probe_log(self.client.pod_log(pod_name, self.namespace, "probe"))
            path = "host" if host_network else "pod"
            for target, family, address, why in plan[(source, host_network)]:
                if address is None:
                    entry = verify.skipped_result(source, target, path, family, why)
                else:
                    entry = verify.pair_result(
                        source, target, path, family, found["pairs"].get((index[target], family))
                    )
                result["pairs"].append(entry)
            if not host_network:
                result["pod_mtu"][source] = found["mtu"]
                if service_ip:
                    result["pairs"].append(verify.service_result(source, service_ip, found["service"]))
            if not found["done"]:
                result["failures"].append("%s: the probe did not run to its end (see its log)" % pod_name)
        skipped = verify.skipped_reasons(result["pairs"])
        if skipped:
            self.warnings.append("some checks are skipped (see skipped in pairs), not failed: %s" % "; ".join(skipped))
        result["failures"] = verify.failure_lines(result["pairs"]) + result["failures"]
        result.update(
            verified=True,
            sampled=len(set(pairs)) < total,
            pairs_checked=len(pairs),
            pairs_total=total,
            service=service_ip,
            checks=sum(1 for pair in result["pairs"] if not pair.get("skipped")),
        )
        return result

    def kube_proxy_runs(self):
        return self.client.get("apps/v1", "DaemonSet", "kube-proxy", "kube-system") is not None

    def wait_targets(self, probed):
        problems = []

        def ready_or_broken(pods):
            problems[:] = [p for p in (verify.fatal_pod_problem(pod) for pod in pods.values()) if p]
            ready = [pod for pod in pods.values() if pod_ready(pod) and (pod.get("status") or {}).get("podIP")]
            return bool(problems) or len(ready) == len(probed)

        selector = LABEL_SELECTOR + ",role=target"
        done = watch_until(
            self.client, "v1", "Pod", ready_or_broken, self.remaining(), self.namespace, label_selector=selector
        )
        pods = self.client.list("v1", "Pod", self.namespace, label_selector=selector)
        if problems:
            raise LiveStateError("probe target pods cannot run: %s" % "; ".join(problems))
        if not done:
            lagging = [verify.pod_state(pod) for pod in pods if not pod_ready(pod)]
            raise WaitTimeout(
                "probe target pods not ready within %ss: %s; their nodes' pod network or kubelet may be broken"
                % (self.timeout, ", ".join(lagging))
            )
        return dict((pod["spec"]["nodeName"], pod) for pod in pods)

    def wait_probers(self):
        problems = []

        def finished_or_broken(pods):
            problems[:] = [p for p in (verify.fatal_pod_problem(pod) for pod in pods.values()) if p]
            return bool(problems) or not verify.pods_not_done(pods)

        selector = LABEL_SELECTOR + ",role in (prober,host)"
        pods = {}

        def remember(items):
            pods.clear()
            pods.update(items)
            return finished_or_broken(items)

        remaining = self.remaining()
        done = watch_until(self.client, "v1", "Pod", remember, remaining, self.namespace, label_selector=selector)
        if problems:
            raise LiveStateError("probe pods cannot run: %s" % "; ".join(problems))
        if not done:
            raise WaitTimeout(
                "probe pods did not finish within %ss: %s" % (self.timeout, ", ".join(verify.pods_not_done(pods)))
            )
