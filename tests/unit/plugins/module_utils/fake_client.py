"""An in-memory stand-in for client.KubeClient, for unit tests of the pure core's error paths."""

from __future__ import annotations

import copy

from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import Conflict


class FakeClient:
    """Objects keyed by (kind, namespace, name); `events` are what a watch yields, in order."""

    def __init__(self, objects=(), events=()):
        self.objects = {}
        for obj in objects:
            self.put(obj)
        self.events = list(events)
        self.patches = []
        self.deleted = []
        self.requests = {"GET": 0, "LIST": 0, "WATCH": 0, "write": 0, "dry-run": 0}

    def put(self, obj):
        meta = obj["metadata"]
        meta.setdefault("uid", "uid-" + meta["name"])
        meta.setdefault("resourceVersion", "1")
        self.objects[(obj["kind"], meta.get("namespace"), meta["name"])] = copy.deepcopy(obj)

    def resource(self, api_version, kind):
        return ("", kind.lower() + "s", True)

    def serves(self, api_version, kind):
        """A kind is served here when an object of it exists (a CRD's kind is not, until then)."""
        return any(key[0] == kind for key in self.objects)

    def get(self, api_version, kind, name, namespace=None):
        self.requests["GET"] += 1
        return copy.deepcopy(self.objects.get((kind, namespace, name)))

    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        return self.list_with_version(api_version, kind, namespace, label_selector, field_selector)[0]

    def list_with_version(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        self.requests["LIST"] += 1
        items = [
            copy.deepcopy(obj)
            for (k, ns, _name), obj in sorted(self.objects.items(), key=lambda item: str(item[0]))
            if k == kind and (namespace is None or ns == namespace)
        ]
        return items, "1"

    def names(self, api_version, kind, namespace=None):
        return set(obj["metadata"]["name"] for obj in self.list(api_version, kind, namespace))

    def watch(self, api_version, kind, namespace=None, timeout=300, resource_version=None, **_selectors):
        self.requests["WATCH"] += 1
        yield from self.events

    def patch(self, api_version, kind, name, namespace, body, patch_type="merge", dry_run=False):
        live = self.objects[(kind, namespace, name)]
        if body["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]:
            raise Conflict("conflict", status=409)
        self.patches.append(body)
        self.requests["dry-run" if dry_run else "write"] += 1
        return live

    def delete(self, api_version, kind, name, namespace=None, uid=None, dry_run=False):
        self.deleted.append((kind, namespace, name))

    def delete_pods(self, namespace, pods, label_selector=None, generation=None):
        for pod in pods:
            self.delete("v1", "Pod", pod["metadata"]["name"], namespace, uid=pod["metadata"]["uid"])
