# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cni_config's run when the version changes: the new version's objects written as upstream's procedure asks
(docs/upgrade.md), with the decisions of upgrade.py; the runner writes the CNI's ConfigMap and DaemonSet."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, ManifestError
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import (
    ManifestSource,
    describe,
    find,
    object_key,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.upgrade import (
    ORIGIN,
    carried_env,
    carried_settings,
    created_here,
    dropped_objects,
    image_changes,
    keep_selector,
    owner_reference_note,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.waiter import wait_crd_established

FIRST_KINDS = ("Namespace", "CustomResourceDefinition")


class NewVersion:
    """change: (direction, from, to) of upgrade.version_change; objects: the new version's manifest."""

    def __init__(self, runner, change, objects):
        self.runner = runner
        self.client, self.writer, self.spec = runner.client, runner.writer, runner.spec
        self.direction, self.old, self.new = change
        self.objects = objects
        self.old_objects = None
        self.steps = []
        self.images = {}
        self.carried = []
        self.left = []

    def write_objects(self):
        """Every object but the CNI's ConfigMap and DaemonSet, applied server-side: namespaces and CRDs first,
        the new CRDs established before anything that may use them."""
        runner = self.runner
        self.old_objects = self.read_old_manifest()
        note = owner_reference_note(runner.req.cni, self.old, self.new)
        if note and self.client.resource("projectcalico.org/v3", "NetworkPolicy") is not None:
            runner.warn(note)
        owned = set([("ConfigMap", self.spec["configmap"]), ("DaemonSet", self.spec["daemonset"])])
        first = [o for o in self.objects if o["kind"] in FIRST_KINDS]
        rest = [
            o for o in self.objects if o["kind"] not in FIRST_KINDS and (o["kind"], o["metadata"]["name"]) not in owned
        ]
        for batch, step in ((first, "namespaces and CRDs"), (rest, "the other objects")):
            created, updated = len(self.writer.created), len(self.writer.updated)
            for obj in batch:
                api_version, kind, namespace, name = object_key(obj)
                live = self.client.get(api_version, kind, name, namespace)
                self.writer.apply(
                    live,
                    self.desired(obj, live),
                    lambda a=api_version, k=kind, n=name, ns=namespace: self.client.get(a, k, n, ns),
                )
            if not runner.check_mode:
                for made in self.writer.created[created:]:
                    if made.startswith("CustomResourceDefinition "):
                        wait_crd_established(self.client, made.split(" ", 1)[1])
            created, updated = len(self.writer.created) - created, len(self.writer.updated) - updated
            self.steps.append(
                "applied %s server-side: %d created, %d updated, %d unchanged"
                % (step, created, updated, len(batch) - created - updated)
            )

    def read_old_manifest(self):
        """The installed version's manifest, to tell the user's changes from upstream's and to find the objects
        the new version drops: from the mirror, else upstream's URL when its sha256 is known."""
        req = self.runner.req
        try:
            source = ManifestSource(req.cni, self.old, mirror=req.source.mirror)
            if source.path and not os.path.isfile(source.path):
                raise ManifestError("no file %s" % source.path)
            return self.runner.read_objects(source)
        except (InputError, ManifestError) as exc:
            self.runner.warn(
                "the manifest of the installed %s %s cannot be read (%s): changes made to its objects by hand are "
                "not told from upstream's, and objects that %s no longer has are not looked for"
                % (req.cni, self.old, exc, self.new)
            )
            return None

    def old_object(self, obj):
        return find(self.old_objects, obj["kind"], obj["metadata"]["name"]) if self.old_objects else None

    def desired(self, obj, live):
        """An object of the new manifest as this run applies it: the image registry, the live selector, the env
        vars the user set, and its origin mark kept."""
        desired = copy.deepcopy(self.runner.desired_workload(obj))
        if live is None:
            return desired
        desired = keep_selector(desired, live)
        carried = carried_env(live, desired, self.old_object(obj), self.runner.driver.managed_env)
        self.carried.extend("%s: env %s" % (describe(obj), name) for name in carried)
        annotations = desired["metadata"].setdefault("annotations", {})
        annotations[ORIGIN] = "created" if created_here(live) else "adopted"
        if obj["kind"] in ("DaemonSet", "Deployment"):
            changes = image_changes(live, desired)
            if changes:
                self.images[describe(obj)] = changes
        return desired

    def configmap(self, live, manifest_configmap):
        """The CNI's ConfigMap for the new version: the settings kept, upstream's templates renewed."""
        old = self.old_object(manifest_configmap)
        data, kept = carried_settings(
            live.get("data") or {},
            manifest_configmap.get("data") or {},
            (old.get("data") or {}) if old else None,
            self.spec["config_settings"],
        )
        self.carried.extend("%s: %s (changed by hand, so kept)" % (describe(live), key) for key in kept)
        configmap = copy.deepcopy(live)
        configmap["data"] = data
        return configmap

    def remove_dropped_objects(self):
        """Objects the installed version had and the new one has not: deleted when this collection created them
        (a CRD only while no object of it exists), otherwise left and reported."""
        for obj in dropped_objects(self.old_objects or [], self.objects):
            api_version, kind, namespace, name = object_key(obj)
            live = self.client.get(api_version, kind, name, namespace)
            if live is None:
                continue
            reason = None
            if not created_here(live):
                reason = "not created by this collection"
            elif kind == "CustomResourceDefinition" and self.custom_objects_exist(live):
                reason = "objects of it exist"
            if reason is None:
                self.writer.delete(live)
                continue
            self.left.append("%s (%s)" % (describe(live), reason))
            self.runner.warn(
                "%s is not part of %s %s and is left in place (%s); delete it once nothing uses it"
                % (describe(live), self.runner.req.cni, self.new, reason)
            )

    def custom_objects_exist(self, crd):
        spec = crd["spec"]
        served = [v["name"] for v in spec.get("versions") or [] if v.get("served")]
        return bool(served) and bool(self.client.names("%s/%s" % (spec["group"], served[0]), spec["names"]["kind"]))

    def report(self):
        runner = self.runner
        how = "all at once" if runner.driver.replace_pods_at_once else "by the DaemonSet's rolling update"
        return {
            "direction": self.direction,
            "from": self.old,
            "to": self.new,
            "available": None,
            "steps": [*self.steps, "%s: %d pods replaced %s" % (self.spec["daemonset"], len(runner.restarted), how)],
            "images": self.images,
            "carried": self.carried,
            "removed": list(self.writer.deleted),
            "left": self.left,
            "restarted": list(runner.restarted),
        }
