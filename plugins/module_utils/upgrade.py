# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upgrading an installed CNI to another version, as pure functions: which way a version change goes, what of
the old install survives, who owns which field, and which objects the new version no longer has.

Both upstreams upgrade a manifest install by applying the new version's manifest server-side, CRDs first
(docs/upgrade.md cites them); what a re-apply would lose - the settings in the ConfigMap, the changes a user made
to upstream's objects - is carried into the new objects here, by comparing the live objects with the installed
version's manifest (three-way, as `kubectl apply` does with its last-applied configuration).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import ANNOTATION_PREFIX, FIELD_MANAGER
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import describe, object_key, pod_containers

RELEASE_RE = re.compile(r"^v([0-9]+)\.([0-9]+)\.([0-9]+)$")
# Marks an object this collection created; only such an object is deleted when a new version drops it.
ORIGIN = ANNOTATION_PREFIX + "origin"
# The field managers of an install: kubectl's create and client-side apply (the upstream instructions), and this
# collection's own patches. An upgrade takes their fields over into its server-side apply, so that a field the new
# version no longer has is removed; fields of any other manager (kubectl edit, set, label, controllers) are kept.
INSTALLER_MANAGERS = ("kubectl-create", "kubectl-client-side-apply", FIELD_MANAGER)
# The Calico release from which projectcalico.org/v3 UIDs change, so OwnerReferences to them must be redone.
CALICO_V3_UID_CHANGE = (3, 28, 0)


def release(version):
    """(major, minor, patch) of a release tag, or None for anything else (latest, a digest, a build)."""
    match = RELEASE_RE.match(version or "")
    return tuple(int(part) for part in match.groups()) if match else None


def version_change(cni, installed, requested, given, allow_downgrade):
    """None when the installed version stays, else ("upgrade"|"downgrade"|"replace", from, to).

    An omitted version keeps what runs; a downgrade, or a change from a version that is not a release tag, only
    when asked for. Raises InputError before anything is written."""
    if installed is None or not given or installed == requested:
        return None
    old, new = release(installed), release(requested)
    direction = "replace" if old is None else "downgrade" if new < old else "upgrade"
    if direction != "upgrade" and not allow_downgrade:
        raise InputError(REFUSED[direction] % {"cni": cni, "installed": installed, "requested": requested})
    return (direction, installed, requested)


REFUSED = {
    "replace": "the installed %(cni)s runs image tag %(installed)r, which is not a release, so cni_config cannot tell "
    "whether version=%(requested)s is an upgrade; pass allow_downgrade=true to replace it with %(requested)s anyway",
    "downgrade": "%(cni)s %(installed)s is installed, which is newer than the requested version %(requested)s; "
    "cni_config does not downgrade unless allow_downgrade=true (the newer CRDs and objects stay), or omit version "
    "to keep %(installed)s",
}


def carried_settings(live_data, new_data, old_data, settings):
    """ConfigMap data for the new version: the settings keys and the keys upstream never had keep their live
    values; a template key takes the new version's value, unless the user changed it from the old version's
    (old_data None: unknown, then the new one is taken). Returns (data, template keys kept as the user set them)."""
    data = dict(new_data)
    kept = []
    for key, value in live_data.items():
        if key in settings or key not in new_data:
            data[key] = value
        elif old_data is not None and key in old_data and value != old_data[key] and value != new_data[key]:
            data[key] = value
            kept.append(key)
    return data, kept


def _env_value(item):
    """An env var as its writer gave it: without the defaults the API server fills in."""
    value = dict((k, copy.deepcopy(v)) for k, v in item.items() if k in ("name", "value", "valueFrom"))
    source = value.get("valueFrom") or {}
    if (source.get("fieldRef") or {}).get("apiVersion") == "v1":
        del source["fieldRef"]["apiVersion"]
    if str((source.get("resourceFieldRef") or {}).get("divisor")) == "0":
        del source["resourceFieldRef"]["divisor"]
    return value


def carried_env(live, new, old, managed=()):
    """The new workload with each container's env vars the user set on the old one (changed from, or absent in,
    the old version's manifest) carried over; `managed` are those the driver sets from the request anyway.
    old None: unknown, nothing is carried. Returns the names carried."""
    carried = []
    if old is None:
        return carried
    old_containers = dict((c["name"], c) for c in pod_containers(old))
    live_containers = dict((c["name"], c) for c in pod_containers(live))
    for container in pod_containers(new):
        name = container["name"]
        if name not in live_containers:
            continue
        upstream = dict((e["name"], _env_value(e)) for e in old_containers.get(name, {}).get("env") or [])
        env = container.setdefault("env", [])
        wanted = dict((e["name"], i) for i, e in enumerate(env))
        for item in live_containers[name].get("env") or []:
            user_item = _env_value(item)
            if item["name"] in managed or upstream.get(item["name"]) == user_item:
                continue  # as upstream had it: the new version's value (or its absence) wins
            if item["name"] in wanted:
                env[wanted[item["name"]]] = user_item
            else:
                env.append(user_item)
            carried.append("%s %s" % (name, item["name"]))
    return carried


def keep_selector(new, live):
    """A workload's selector is immutable: the new object keeps the live one, and its pods the labels it selects
    (an install from flannel's release asset selects app and k8s-app)."""
    selector = (live.get("spec") or {}).get("selector")
    if not selector or new["kind"] not in ("DaemonSet", "Deployment"):
        return new
    new = copy.deepcopy(new)
    new["spec"]["selector"] = copy.deepcopy(selector)
    labels = new["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {})
    labels.update(selector.get("matchLabels") or {})
    return new


def _merge_fields(into, fields):
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge_fields(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def taken_over(managed_fields):
    """managedFields with the installer's entries merged into this collection's apply entry, or None when there
    is nothing to take over (kubectl's --server-side migration of client-side apply does the same)."""
    takes = [
        entry
        for entry in managed_fields or []
        if entry.get("manager") in INSTALLER_MANAGERS
        and not entry.get("subresource")
        and not (entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply")
    ]
    if not takes:
        return None
    api_version = takes[0].get("apiVersion")
    takes = [entry for entry in takes if entry.get("apiVersion") == api_version]
    apply_entry = next(
        (
            e
            for e in managed_fields
            if e.get("manager") == FIELD_MANAGER and e.get("operation") == "Apply" and not e.get("subresource")
        ),
        None,
    )
    fields = copy.deepcopy((apply_entry or {}).get("fieldsV1") or {})
    for entry in takes:
        _merge_fields(fields, entry.get("fieldsV1") or {})
    merged = {
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        "manager": FIELD_MANAGER,
        "operation": "Apply",
    }
    rest = [e for e in managed_fields if not any(e is t for t in takes) and e is not apply_entry]
    return [merged, *rest]


def created_here(obj):
    """Whether this collection created the object: its origin mark, or (objects of releases before the mark) a
    server-side apply of ours and no installer's entry."""
    origin = (obj["metadata"].get("annotations") or {}).get(ORIGIN)
    if origin is not None:
        return origin == "created"
    managers = [(e.get("manager"), e.get("operation")) for e in obj["metadata"].get("managedFields") or []]
    ours = (FIELD_MANAGER, "Apply") in managers
    return ours and not any(m in INSTALLER_MANAGERS and m != FIELD_MANAGER for m, _op in managers)


def dropped_objects(old_objects, new_objects):
    """Objects of the old version's manifest that the new one no longer has."""
    new_keys = set(object_key(obj)[1:] for obj in new_objects)
    return [obj for obj in old_objects if object_key(obj)[1:] not in new_keys]


def crd_summary(crd):
    """What a reader of a diff wants of a CRD: its versions, which are served, which is stored."""
    versions = (crd or {}).get("spec", {}).get("versions") or []
    return sorted(
        "%s%s%s"
        % (v["name"], "" if v.get("served", True) else " (not served)", " (storage)" if v.get("storage") else "")
        for v in versions
    )


def image_changes(live, new):
    """container: "old image -> new image" for the containers whose image changes."""
    before = dict((c["name"], c.get("image")) for c in pod_containers(live or {}))
    changes = {}
    for container in pod_containers(new):
        old = before.get(container["name"])
        if old != container.get("image"):
            changes[container["name"]] = "%s -> %s" % (old or "(new container)", container.get("image"))
    for name in sorted(set(before) - set(c["name"] for c in pod_containers(new))):
        changes[name] = "%s -> (removed)" % before[name]
    return changes


def owner_reference_note(cni, old, new):
    """Calico's upgrade notes: from v3.28 on, projectcalico.org/v3 objects get new UIDs, so OwnerReferences to
    them must be removed before and re-added after the upgrade (their dependents are garbage collected)."""
    if cni == "flannel" or release(old) is None or release(new) is None:
        return None
    if release(old) < CALICO_V3_UID_CHANGE <= release(new):
        return (
            "%s -> %s crosses Calico v3.28, which changes the UID of every projectcalico.org/v3 object: objects "
            "with an OwnerReference to one are garbage collected; remove those references before the upgrade and "
            "add them again after (Calico's upgrade notes, docs/upgrade.md)" % (old, new)
        )
    return None


def describe_all(objects):
    return [describe(obj) for obj in objects]
