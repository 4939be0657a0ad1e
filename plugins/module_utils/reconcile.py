# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write only the difference: create what is missing, merge-patch what differs, keep others' changes.

The Writer records what it created and patched and the diff to show; in check mode every write is a
server-side dry run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

try:
    import yaml
except ImportError:  # pragma: no cover - the kubernetes client, which the modules require, depends on PyYAML
    yaml = None

from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import ApiError, Conflict
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import describe, object_key
from ansible_collections.kubeforge.cluster.plugins.module_utils.upgrade import ORIGIN, crd_summary, taken_over

CONFLICT_RETRIES = 5
# Server-maintained fields that never take part in a comparison or a patch.
VOLATILE_METADATA = ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid")


def strip_volatile(obj):
    """A copy of obj without the server's fields: a shallow one (nothing below metadata is changed, and the
    callers only read it), where a deep copy of 38 objects cost a no-op run 10 ms."""
    obj = dict(obj)
    obj.pop("status", None)
    if "metadata" in obj:
        obj["metadata"] = dict((k, v) for k, v in obj["metadata"].items() if k not in VOLATILE_METADATA)
    return obj


def merge_patch(live, desired):
    """The RFC 7386 merge patch turning live into desired (lists are replaced whole), or None if equal."""
    if live == desired:
        return None
    if isinstance(live, dict) and isinstance(desired, dict):
        patch = {}
        for key, value in desired.items():
            if key not in live:
                patch[key] = value
            elif live[key] != value:
                patch[key] = merge_patch(live[key], value)
        for key in live:
            if key not in desired:
                patch[key] = None
        return patch
    return desired


def differs(live, desired):
    return bool(merge_patch(strip_volatile(live), strip_volatile(desired)))


def pick_values(obj, patch):
    """The values of obj at the paths a patch touches: the `before` of a diff."""
    if not isinstance(patch, dict) or not isinstance(obj, dict):
        return obj
    return dict((key, pick_values(obj.get(key), value)) for key, value in patch.items())


class Writer:
    def __init__(self, client, check_mode=False):
        self.client = client
        self.check_mode = check_mode
        self.created = []
        self.updated = []
        self.deleted = []
        self.diff = []

    @property
    def changed(self):
        return bool(self.created or self.updated or self.deleted)

    def ensure(self, live, make_desired, read, patch_type="merge"):
        """Create the object, or patch what differs; on a conflict re-read and recompute, so another
        writer's change is kept. Returns (object, changed)."""
        for _attempt in range(CONFLICT_RETRIES):
            desired = make_desired(live)
            if live is None:
                return self.create(desired), True
            patch = merge_patch(strip_volatile(live), strip_volatile(desired))
            if not patch:
                return live, False
            # The resourceVersion makes the patch fail with a conflict if the object moved on since read.
            body = dict(
                patch, metadata=dict(patch.get("metadata") or {}, resourceVersion=live["metadata"]["resourceVersion"])
            )
            api_version, kind, namespace, name = object_key(live)
            try:
                result = self.client.patch(api_version, kind, name, namespace, body, patch_type, self.check_mode)
            except Conflict:
                live = read()
                continue
            self.updated.append(describe(live))
            self.diff.append(
                {
                    "before_header": describe(live),
                    "after_header": describe(live),
                    "before": dump(pick_values(strip_volatile(live), patch)),
                    "after": dump(patch),
                }
            )
            return result, True
        raise ApiError("%s kept changing under us (%d conflicts); run again" % (describe(live), CONFLICT_RETRIES))

    def apply(self, live, desired, read):
        """Server-side apply of a whole object, as an upgrade writes the new version's objects: the installer's
        fields are taken over first, so that a field the new version no longer has is removed, while fields of
        other managers stay. Returns (object, changed)."""
        if live is None:
            return self.create(desired), True
        for _attempt in range(CONFLICT_RETRIES):
            managed = taken_over(live["metadata"].get("managedFields"))
            if managed is None or self.check_mode:
                break
            api_version, kind, namespace, name = object_key(live)
            body = {"metadata": {"managedFields": managed, "resourceVersion": live["metadata"]["resourceVersion"]}}
            try:
                self.client.patch(api_version, kind, name, namespace, body, "merge")
                break
            except Conflict:
                live = read()
        result = self.client.apply(desired, dry_run=self.check_mode)
        patch = merge_patch(strip_volatile(live), strip_volatile(result))
        if not patch:
            return result, False
        self.updated.append(describe(live))
        if live["kind"] == "CustomResourceDefinition":
            # Its schemas run to thousands of lines: show what a reader checks, the versions.
            before, after = {"versions": crd_summary(live)}, {"versions": crd_summary(result)}
            after["schema"] = "changed" if live.get("spec") != result.get("spec") else "unchanged"
        else:
            before, after = pick_values(strip_volatile(live), patch), patch
        self.diff.append(
            {
                "before_header": describe(live),
                "after_header": describe(live),
                "before": dump(before),
                "after": dump(after),
            }
        )
        return result, True

    def create(self, obj):
        obj = copy.deepcopy(obj)
        obj["metadata"].setdefault("annotations", {})[ORIGIN] = "created"
        if self.check_mode and self._namespace_is_new(obj):
            result = obj  # a dry-run create fails in a namespace that a dry run did not create
        elif self.check_mode and self.client.resource(obj["apiVersion"], obj["kind"]) is None:
            result = obj  # its CRD is created in this run; the dry run could not create it
        else:
            result = self.client.apply(obj, dry_run=self.check_mode)
        # Only now: a create the server refused wrote nothing, and the report says what was written.
        self.created.append(describe(obj))
        self.diff.append(
            {"before_header": describe(obj), "after_header": describe(obj), "before": "", "after": "(created)\n"}
        )
        return result

    def delete(self, live):
        api_version, kind, namespace, name = object_key(live)
        self.client.delete(api_version, kind, name, namespace, uid=live["metadata"]["uid"], dry_run=self.check_mode)
        self.deleted.append(describe(live))
        self.diff.append(
            {"before_header": describe(live), "after_header": describe(live), "before": "(exists)\n", "after": ""}
        )

    def _namespace_is_new(self, obj):
        namespace = obj["metadata"].get("namespace")
        return bool(namespace) and ("Namespace %s" % namespace) in self.created


def dump(value):
    if yaml is None:
        return json.dumps(value, indent=2, sort_keys=True) + "\n"
    return yaml.dump(value, Dumper=_DiffDumper, default_flow_style=False, sort_keys=True)


if yaml is not None:

    class _DiffDumper(yaml.SafeDumper):
        """Multi-line strings (net-conf.json) as blocks, so a diff shows the changed line."""

    def _represent_str(dumper, text):
        style = "|" if "\n" in text else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)

    _DiffDumper.add_representer(str, _represent_str)
