# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cni_config's reconciler: read the cluster once, decide, write only the difference in the order the
CNI's driver asks for, wait for the pods, report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import time

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import ANNOTATION_PREFIX, mtu_overhead
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, LiveStateError, ManifestError
from ansible_collections.kubeforge.cluster.plugins.module_utils.live import LiveCluster, driver_for
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import (
    find,
    image_tag,
    object_key,
    parse_manifest,
    read_manifest,
    replace_registry,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import is_dual_stack
from ansible_collections.kubeforge.cluster.plugins.module_utils.new_version import NewVersion
from ansible_collections.kubeforge.cluster.plugins.module_utils.pod_cidr import decide_pod_cidr
from ansible_collections.kubeforge.cluster.plugins.module_utils.reconcile import Writer, differs
from ansible_collections.kubeforge.cluster.plugins.module_utils.tigera_run import OperatorRun
from ansible_collections.kubeforge.cluster.plugins.module_utils.upgrade import release, version_change
from ansible_collections.kubeforge.cluster.plugins.module_utils.waiter import wait_crd_established, wait_pods_replaced

CONFIG_HASH = ANNOTATION_PREFIX + "config-hash"
RESTARTED_AT = ANNOTATION_PREFIX + "restarted-at"


class CniConfigRunner:
    def __init__(self, client, request, check_mode=False, fetch_url=None, warn=None):
        self.client = client
        self.req = request
        self.driver = driver_for(request.cni)
        self.spec = self.driver.spec
        self.check_mode = check_mode
        self.fetch_url = fetch_url
        self.warn = warn or (lambda message: None)
        self.writer = Writer(client, check_mode)
        self.live = None
        self.restarted = []
        self.old_pods = []
        self.daemonset_changed = False
        self.new_version = None  # a NewVersion when this run changes the version
        self.upgrade_available = None  # the pinned version, when newer than the installed one that stays

    def run(self):
        req, driver = self.req, self.driver
        self.live = live = LiveCluster(self.client, req.cni)
        if live.installer == "operator" or req.installer == "operator":
            return OperatorRun(self).run()
        driver.read_for_write(self.client, live)
        self.pod_cidr = decide_pod_cidr(
            req.pod_cidr, req.cni, live.kubeadm_subnet, driver.live_pod_cidr(live), live.node_pod_cidrs(), req.backend
        )
        driver.check_nodes(live, self.pod_cidr)
        self.check_node_arches()
        warning = self.spec["backends"][req.backend].get("warning")
        if warning:
            self.warn(warning)
        installed = image_tag(live.daemonset, self.spec["version_container"]) if live.daemonset else None
        objects, version, named = self.load_manifest(installed)
        # Before any write: a downgrade, or a change from an unknown version, is refused unless asked for.
        change = version_change(req.cni, installed, version, named, req.allow_downgrade)
        if change:
            self.new_version = NewVersion(self, change, objects)
            self.new_version.write_objects()
        else:
            self.ensure_missing_objects(objects or [])
        if self.writer.created and not self.check_mode:
            for crd in driver.crds:
                wait_crd_established(self.client, crd)
        self.manifest_configmap = find(objects or [], "ConfigMap", self.spec["configmap"])
        self.manifest_daemonset = find(objects or [], "DaemonSet", self.spec["daemonset"])
        self.configmap, self.daemonset = live.configmap, live.daemonset
        if self.configmap is None and self.manifest_configmap is None:
            raise LiveStateError(
                "ConfigMap %s/%s is missing and no manifest of the installed %s %s is at hand to re-create it; pass "
                "version= (the installed one, or a newer one to upgrade) with its manifest"
                % (self.spec["namespace"], self.spec["configmap"], req.cni, installed)
            )
        self.old_backend = driver.live_backend(live)
        self.installing = live.daemonset is None
        driver.apply(self, self.installing)
        if self.new_version:
            self.new_version.remove_dropped_objects()
        self.check_config_is_still_ours()
        return self.report()

    def check_config_is_still_ours(self):
        """Two runs that switch one cluster at once both succeed in writing, the later one wins: the other must
        not report a switch that the cluster no longer has. One GET, only after a change."""
        if self.check_mode or not self.writer.changed or self.configmap is None:
            return
        spec = self.spec
        live = self.client.get("v1", "ConfigMap", spec["configmap"], spec["namespace"])
        if live is not None and self.driver.config_hash(live) != self.driver.config_hash(self.configmap):
            raise LiveStateError(
                "another writer changed ConfigMap %s/%s while this run configured %s backend %s: the cluster now "
                "runs that writer's configuration, not this run's. Runs that switch one cluster must not overlap; "
                "run again to configure %s"
                % (spec["namespace"], spec["configmap"], self.req.cni, self.req.backend, self.req.backend)
            )

    def check_node_arches(self):
        arches = self.spec["backends"][self.req.backend].get("arches")
        other = sorted(
            "%s (%s)" % (n, v["arch"]) for n, v in self.live.nodes.items() if arches and v["arch"] not in arches
        )
        if other:
            raise LiveStateError(
                "the %s backend runs on %s only; these nodes do not: %s. Use one of: %s"
                % (
                    self.req.backend,
                    ", ".join("linux/%s" % arch for arch in arches),
                    ", ".join(other),
                    ", ".join(b for b, spec in self.spec["backends"].items() if not spec.get("arches")),
                )
            )

    def load_manifest(self, installed):
        """(objects, their version, whether the user named that version) of the manifest this run works from.

        No version named (no version=, no manifest file or URL of their own) on an installed CNI: the installed
        version stays, and its own manifest re-creates what is missing - or, when none is at hand, nothing is."""
        req = self.req
        source, named = req.source, req.version_given or req.source.given_file
        if installed and not named and installed != req.version:
            if (release(req.version) or ()) > (release(installed) or ()):
                self.upgrade_available = req.version
            try:
                source = req.source.at_version(installed)
            except InputError:
                source = None
            if source is None or (source.path and not os.path.isfile(source.path)):
                self.warn(
                    "%s %s is installed and no manifest of that version is at hand, so objects of it that are "
                    "missing are not re-created; the collection pins %s: pass version=%s to upgrade"
                    % (req.cni, installed, req.version, req.version)
                )
                return None, installed, False
        objects = self.read_objects(source)
        version = image_tag(find(objects, "DaemonSet", self.spec["daemonset"]), self.spec["version_container"])
        if req.version_given and version != req.version:
            raise ManifestError(
                "the manifest %s is %s %s (the tag of its %s image), not version=%s; give the manifest of that "
                "version, or that version"
                % (source.describe(), req.cni, version, self.spec["version_container"], req.version)
            )
        return objects, version or req.version, named

    def read_objects(self, source):
        text, warnings = read_manifest(source, self.fetch_url)
        for warning in warnings:
            self.warn(warning)
        objects = parse_manifest(text, source.describe())
        for kind, name in (("ConfigMap", self.spec["configmap"]), ("DaemonSet", self.spec["daemonset"])):
            found = find(objects, kind, name)
            if found is None or found["metadata"].get("namespace") != self.spec["namespace"]:
                raise ManifestError(
                    "the manifest %s has no %s %s/%s: is it a %s manifest of a supported version?"
                    % (source.describe(), kind, self.spec["namespace"], name, self.req.cni)
                )
        return objects

    def ensure_missing_objects(self, objects):
        """Everything the manifest has that the cluster lacks; existing objects are adopted as they are,
        Deployments only get the image registry."""
        owned = set([("ConfigMap", self.spec["configmap"]), ("DaemonSet", self.spec["daemonset"])])
        existing = {}  # (apiVersion, kind, namespace) -> names: one LIST per kind, not a GET per object
        for obj in objects:
            if (obj["kind"], obj["metadata"]["name"]) in owned:
                continue
            api_version, kind, namespace, name = object_key(obj)
            group = (api_version, kind, namespace)
            if kind == "Deployment":
                live = self.client.get(api_version, kind, name, namespace)  # whole: its images may change
            else:
                # Listed when first needed, so that a kind whose CRD this run created is found.
                if group not in existing:
                    existing[group] = self.client.names(api_version, kind, namespace)
                live = obj if name in existing[group] else None
            if live is None or kind == "Deployment":
                self.writer.ensure(
                    live,
                    lambda current, o=obj: self.desired_workload(current if current else o),
                    lambda a=api_version, k=kind, n=name, ns=namespace: self.client.get(a, k, n, ns),
                    "strategic",
                )

    def desired_workload(self, obj, restart_marker=None):
        """A DaemonSet or Deployment with the image registry, and the CNI's DaemonSet with what its
        driver needs and the restart marker."""
        if obj["kind"] not in ("DaemonSet", "Deployment"):
            return obj
        obj = copy.deepcopy(obj)
        pod = obj["spec"]["template"]["spec"]
        registry = self.req.image_registry
        for container in pod.get("initContainers", []) + pod.get("containers", []):
            if registry and not container["image"].startswith(registry.rstrip("/") + "/"):
                container["image"] = replace_registry(container["image"], registry)
        if obj["kind"] != "DaemonSet" or obj["metadata"]["name"] != self.spec["daemonset"]:
            return obj
        obj = self.driver.desired_daemonset(obj, self.req, self.pod_cidr)
        if restart_marker:
            annotations = obj["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})
            annotations.update(restart_marker)
        return obj

    # -- the steps a driver orders ----------------------------------------------------------------
    def write_config_and_daemonset(self):
        spec, req, client, namespace = self.spec, self.req, self.client, self.spec["namespace"]

        def desired_configmap(live):
            base = live if live is not None else self.manifest_configmap
            if self.new_version and live is not None:
                base = self.new_version.configmap(live, self.manifest_configmap)
            return self.driver.desired_configmap(base, req, self.pod_cidr, self.warn)

        self.configmap, config_changed = self.writer.ensure(
            self.configmap, desired_configmap, lambda: client.get("v1", "ConfigMap", spec["configmap"], namespace)
        )
        new_hash = self.driver.config_hash(self.configmap)
        template = (self.daemonset or {}).get("spec", {}).get("template", {}).get("metadata") or {}
        running_hash = (template.get("annotations") or {}).get(CONFIG_HASH)
        # Pods read the config at start only: restart when it changed, or when the pods run an older one.
        stale = config_changed or (running_hash is not None and running_hash != new_hash)
        marker = None
        if self.daemonset is None or self.new_version or (stale and req.restart != "never"):
            marker = {CONFIG_HASH: new_hash}
        if req.restart == "always" and self.daemonset is not None:
            marker = {CONFIG_HASH: new_hash, RESTARTED_AT: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if stale and req.restart == "never":
            self.warn(
                "restart=never: the %s pods keep the previous configuration until they are restarted"
                % spec["daemonset"]
            )

        def read():
            return client.get("apps/v1", "DaemonSet", spec["daemonset"], namespace)

        if self.new_version and self.daemonset is not None:
            # The new version's DaemonSet, applied whole: a container or field it no longer has must go.
            desired = self.desired_workload(self.new_version.desired(self.manifest_daemonset, self.daemonset), marker)
            self.old_pods = client.list("v1", "Pod", namespace, label_selector=spec["pod_selector"])
            self.daemonset, self.daemonset_changed = self.writer.apply(self.daemonset, desired, read)
            if not self.daemonset_changed:
                self.old_pods = []
        else:
            # Any change of the pod template replaces the pods: remember which ones ran before it.
            if self.daemonset is not None and differs(self.daemonset, self.desired_workload(self.daemonset, marker)):
                self.old_pods = client.list("v1", "Pod", namespace, label_selector=spec["pod_selector"])
            base = self.daemonset if self.daemonset is not None else self.manifest_daemonset
            # A merge patch: the desired DaemonSet is the live one changed, so a list it sends (containers, env) is
            # the live list changed, and an item the driver dropped goes, where a strategic patch would keep it.
            # The resourceVersion keeps a concurrent change from being overwritten.
            self.daemonset, self.daemonset_changed = self.writer.ensure(
                self.daemonset,
                lambda live: self.desired_workload(live if live is not None else base, marker),
                read,
            )
        if self.old_pods and self.driver.replace_pods_at_once and not self.check_mode:
            # One DELETE of them all where their generation labels tell them from the pods made since.
            generation = self.daemonset["metadata"].get("generation")
            client.delete_pods(namespace, self.old_pods, spec["pod_selector"], generation)
        if self.old_pods and self.daemonset_changed:
            self.restarted = sorted(pod["metadata"]["name"] for pod in self.old_pods)

    def wait_for_restart(self):
        if self.check_mode or not self.req.wait or not self.daemonset_changed:
            return
        wait_pods_replaced(self.client, self.spec, self.old_pods, self.live.nodes, self.req.wait_timeout)

    # -- reporting --------------------------------------------------------------------------------
    def report(self):
        req, writer = self.req, self.writer
        result = {
            "changed": bool(writer.changed or self.restarted),
            "cni": req.cni,
            "backend": req.backend,
            "previous_backend": self.old_backend,
            "pod_cidr": self.pod_cidr,
            "version": image_tag(self.daemonset, self.spec["version_container"]) if self.daemonset else None,
            "created": writer.created,
            "updated": writer.updated,
            "restarted": self.restarted,
            "mtu_overhead": mtu_overhead(req.cni, req.backend, is_dual_stack(self.pod_cidr)),
            "stale_node_state": [],
            "workloads_to_restart": [],
            "removed": self.writer.deleted,
        }
        if self.new_version:
            result["upgrade"] = self.new_version.report()
        elif self.upgrade_available:
            result["upgrade"] = {"available": self.upgrade_available}
        self.driver.report(self, result)
        if self.installing or not writer.updated:
            return result
        if self.old_backend not in self.spec["backends"]:
            return result
        dual_stack = is_dual_stack(self.pod_cidr)
        old = mtu_overhead(req.cni, self.old_backend, dual_stack)
        new = mtu_overhead(req.cni, req.backend, dual_stack)
        if new > old:
            result["workloads_to_restart"] = self.workloads_to_restart(
                "the new backend's MTU is smaller; %d running pods keep the old MTU on their interfaces until "
                "they are restarted (see workloads_to_restart)"
            )
        elif new < old and self.driver.pods_share_a_bridge:
            result["workloads_to_restart"] = self.workloads_to_restart(
                "the new backend's MTU is larger; %d running pods keep the old, smaller MTU, and their veths hold "
                "their node's bridge (cni0) at it, so full-size packets to that node fail until they are "
                "restarted (see workloads_to_restart)"
            )
        return result

    def workloads_to_restart(self, warning):
        if self.check_mode:
            return []
        pods = self.client.list("v1", "Pod")
        workloads = sorted(
            "%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in pods
            if not p["spec"].get("hostNetwork") and p["status"].get("phase") == "Running"
        )
        if workloads:
            self.warn(warning % len(workloads))
        return workloads
