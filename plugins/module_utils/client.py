# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only I/O of the collection's modules: a small REST adapter (its HTTP: transport.py, chosen by kubeconfig.py).

Raw REST with aggregated discovery instead of the dynamic client: the dynamic client discovers every
API group on each run, which costs dozens of requests the modules never need; two requests (/api and
/apis) tell every group's resources, and a server that does not send that format is asked per group.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

try:
    from urllib.parse import urlencode
except ImportError:  # pragma: no cover - Python 2
    urlencode = None

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import FIELD_MANAGER
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import ApiError, Conflict
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeconfig import connect
from ansible_collections.kubeforge.cluster.plugins.module_utils.transport import TransportError

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
# A list of the objects' metadata only (the API server's PartialObjectMetadataList), else the whole list.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
# Aggregated discovery (Kubernetes 1.30+ serves v2; 1.26-1.29 v2beta1): every group's resources in one answer
# from /api (the core group) and one from /apis; a server without it answers the plain lists.
AGGREGATED_DISCOVERY = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)
# The core group's kinds the modules read and write: their paths have not changed since Kubernetes 1.0, so they need
# no discovery request (any other core kind is discovered).
CORE_V1 = {
    "ConfigMap": ("configmaps", True),
    "Namespace": ("namespaces", False),
    "Node": ("nodes", False),
    "Pod": ("pods", True),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "ServiceAccount": ("serviceaccounts", True),
}
# The label the DaemonSet controller puts on each pod: the DaemonSet's generation the pod was made from.
POD_TEMPLATE_GENERATION = "pod-template-generation"


def split_api_version(api_version):
    if "/" in api_version:
        return tuple(api_version.split("/", 1))
    return "", api_version


class KubeClient:
    def __init__(self, kubeconfig=None, context=None, field_manager=FIELD_MANAGER):
        self.connection = connect(kubeconfig, context)
        self.host = self.connection.host
        self.field_manager = field_manager
        # apiVersion -> {kind: (base path, plural, namespaced)}
        self._resources = {"v1": dict((kind, ("/api/v1", *entry)) for kind, entry in CORE_V1.items())}
        self._aggregated = None  # whether the server sends aggregated discovery; None: not asked yet
        self._stale = set()  # group versions the aggregated discovery marks stale
        self._discovered = set()  # the roots (/api, /apis) whose aggregated discovery this client has read
        self.requests = {"GET": 0, "LIST": 0, "WATCH": 0, "write": 0, "dry-run": 0}

    # -- discovery ------------------------------------------------------------------------------
    def resource(self, api_version, kind):
        """(collection path base, plural, namespaced) of a kind, or None when the server does not serve it.

        Discovered once, and again for a kind not found (its CRD may have been created since): from the
        aggregated discovery of /api or /apis, else (an older server) per group version.
        """
        found = self._resources.get(api_version, {}).get(kind)
        if found is not None:
            return found
        group, _version = split_api_version(api_version)
        aggregated = self._aggregated is not False and self._discover_aggregated("/apis" if group else "/api")
        if aggregated and api_version not in self._stale:
            return self._resources.get(api_version, {}).get(kind)
        return self._discover_group(api_version, kind)

    def serves(self, api_version, kind):
        """Whether the server serves a kind, by the discovery read so far (read now if none was): a kind that
        is not there costs no request, where resource() asks again in case its CRD was just created."""
        if self._resources.get(api_version, {}).get(kind) is not None:
            return True
        group, _version = split_api_version(api_version)
        if ("/apis" if group else "/api") in self._discovered and api_version not in self._stale:
            return False
        return self.resource(api_version, kind) is not None

    def _discover_aggregated(self, root):
        """Every group version under root with its resources, as the server sends them (APIGroupDiscoveryList);
        False when it does not (then it is not asked again)."""
        try:
            listing = self._call("GET", root, count="GET", accept=AGGREGATED_DISCOVERY)
        except ApiError as exc:
            if exc.status is None:  # unreachable
                raise
            listing = {}
        if listing.get("kind") != "APIGroupDiscoveryList":
            self._aggregated = False
            return False
        self._aggregated = True
        self._discovered.add(root)
        for group in listing.get("items") or []:
            name = (group.get("metadata") or {}).get("name") or ""
            for entry in group.get("versions") or []:
                api_version = "%s/%s" % (name, entry["version"]) if name else entry["version"]
                if entry.get("freshness", "Current") != "Current":
                    self._stale.add(api_version)  # an aggregated API server not answering: asked on its own
                    continue
                self._stale.discard(api_version)
                base = "/apis/" + api_version if name else "/api/" + api_version
                kinds = {}
                for item in entry.get("resources") or []:
                    kind = (item.get("responseKind") or {}).get("kind")
                    if kind:
                        kinds[kind] = (base, item["resource"], item.get("scope") == "Namespaced")
                self._resources[api_version] = kinds
        return True

    def _discover_group(self, api_version, kind):
        """One group version's resources (a server without aggregated discovery); asked again while the kind
        is not among them."""
        group, version = split_api_version(api_version)
        base = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
        try:
            listing = self._call("GET", base, count="GET")
        except ApiError as exc:
            if exc.status == 404:
                listing = {"resources": []}
            else:
                raise
        kinds = {}
        for item in listing.get("resources", []):
            if "/" not in item["name"]:
                kinds[item["kind"]] = (base, item["name"], item["namespaced"])
        if kinds:
            self._resources[api_version] = kinds
        return kinds.get(kind)

    def path(self, api_version, kind, namespace=None, name=None):
        found = self.resource(api_version, kind)
        if found is None:
            raise ApiError(
                "the API server does not serve %s %s; is its CRD installed?" % (api_version, kind), status=404
            )
        base, plural, namespaced = found
        parts = [base]
        if namespaced and namespace:  # a namespaced kind without one: across all namespaces (lists)
            parts += ["namespaces", namespace]
        parts.append(plural)
        if name:
            parts.append(name)
        return "/".join(parts)

    # -- reads ----------------------------------------------------------------------------------
    def get(self, api_version, kind, name, namespace=None):
        """The object, or None when it (or its kind) does not exist."""
        if self.resource(api_version, kind) is None:
            return None
        try:
            return self._call("GET", self.path(api_version, kind, namespace, name), count="GET")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        return self.list_with_version(api_version, kind, namespace, label_selector, field_selector)[0]

    def list_with_version(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        """(items, the list's resourceVersion to watch from)."""
        if self.resource(api_version, kind) is None:
            return [], None
        query = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        listing = self._call("GET", self.path(api_version, kind, namespace), query=query, count="LIST")
        return listing.get("items") or [], listing.get("metadata", {}).get("resourceVersion")

    def names(self, api_version, kind, namespace=None):
        """The names of the objects of a kind: one LIST of their metadata only, where a GET per object or a
        LIST of whole objects (23 CRD schemas) would cost more."""
        if self.resource(api_version, kind) is None:
            return set()
        listing = self._call("GET", self.path(api_version, kind, namespace), count="LIST", accept=METADATA_LIST)
        return set(item["metadata"]["name"] for item in listing.get("items") or [])  # null when none

    def pod_log(self, name, namespace, container=None):
        """A pod's log as text (the log subresource answers text/plain, not JSON)."""
        query = [("container", container)] if container else None
        self.requests["GET"] += 1
        data = self._raw("GET", self.path("v1", "Pod", namespace, name) + "/log", query=query, accept="*/*").data
        return data.decode("utf-8", "replace") if data else ""

    # -- writes ---------------------------------------------------------------------------------
    def _object_path(self, obj, with_name=True):
        meta = obj["metadata"]
        namespaced = (self.resource(obj["apiVersion"], obj["kind"]) or (None, None, False))[2]
        namespace = (meta.get("namespace") or "default") if namespaced else None
        return self.path(obj["apiVersion"], obj["kind"], namespace, meta["name"] if with_name else None)

    def apply(self, obj, dry_run=False, force=True):
        """Server-side apply: no last-applied annotation, so CRDs of any size apply."""
        path = self._object_path(obj)
        query = [("fieldManager", self.field_manager), ("force", "true" if force else "false")]
        return self._write("PATCH", path, obj, query, PATCH_TYPES["apply"], dry_run)

    def create(self, obj, dry_run=False):
        path = self._object_path(obj, with_name=False)
        return self._write("POST", path, obj, [("fieldManager", self.field_manager)], None, dry_run)

    def patch(self, api_version, kind, name, namespace, body, patch_type="merge", dry_run=False):
        """A patch carrying metadata.resourceVersion fails with Conflict if the object moved on."""
        path = self.path(api_version, kind, namespace, name)
        return self._write(
            "PATCH", path, body, [("fieldManager", self.field_manager)], PATCH_TYPES[patch_type], dry_run
        )

    def delete(self, api_version, kind, name, namespace=None, uid=None, dry_run=False):
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            return self._write("DELETE", self.path(api_version, kind, namespace, name), body, [], None, dry_run)
        except ApiError as exc:
            if exc.status in (404, 409):  # gone already, or replaced by a newer object of that name
                return None
            raise

    def delete_pods(self, namespace, pods, label_selector=None, generation=None):
        """Delete these pods of a DaemonSet now at `generation`. In one request when their pod-template-generation
        labels (the DaemonSet generation each was made from) are all below it: the selector of those labels then
        takes in no pod the DaemonSet made since. Else one request each, with the uid precondition."""
        labels = [(pod["metadata"].get("labels") or {}).get(POD_TEMPLATE_GENERATION) or "" for pod in pods]
        if pods and generation is not None and all(label.isdigit() and int(label) < generation for label in labels):
            generations = ",".join(sorted(set(labels), key=int))
            selector = ",".join(
                part for part in (label_selector, "%s in (%s)" % (POD_TEMPLATE_GENERATION, generations)) if part
            )
            body = {"kind": "DeleteOptions", "apiVersion": "v1"}
            try:
                self._write(
                    "DELETE", self.path("v1", "Pod", namespace), body, [("labelSelector", selector)], None, False
                )
            except ApiError as exc:
                if exc.status != 404:
                    raise
            return
        for pod in pods:
            self.delete("v1", "Pod", pod["metadata"]["name"], namespace, uid=pod["metadata"]["uid"])

    # -- watch ----------------------------------------------------------------------------------
    def watch(
        self,
        api_version,
        kind,
        namespace=None,
        field_selector=None,
        label_selector=None,
        timeout=300,
        resource_version=None,
    ):
        """Yield (event type, object) until the timeout; the caller stops when satisfied.

        A resourceVersion the server no longer keeps (410 Gone, as an answer or as an ERROR event) ends the
        watch with ("EXPIRED", None): the events since are lost, deletions with them, so only a fresh list
        tells the current state; the caller lists again and watches from that list's resourceVersion.
        """
        deadline = time.time() + timeout
        path = self.path(api_version, kind, namespace)
        while time.time() < deadline:
            query = [
                ("watch", "true"),
                ("allowWatchBookmarks", "false"),
                ("timeoutSeconds", str(max(1, int(deadline - time.time())))),
            ]
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if label_selector:
                query.append(("labelSelector", label_selector))
            if resource_version:
                query.append(("resourceVersion", resource_version))
            self.requests["WATCH"] += 1
            try:
                response = self._raw("GET", path, query=query, stream=True)
            except ApiError as exc:
                if exc.status != 410:
                    raise
                yield "EXPIRED", None
                return
            try:
                for line in response.lines():
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        # Mostly 410 Expired; after any error the stream cannot be trusted to resume.
                        yield "EXPIRED", None
                        return
                    resource_version = event["object"]["metadata"].get("resourceVersion", resource_version)
                    yield event["type"], event["object"]
            except TransportError:
                yield "EXPIRED", None  # broken off: what happened since is not known, as after a 410
                return
            finally:
                # Closed, not kept alive: left early (the caller has what it waited for), the server would stream
                # the watch until its timeout.
                response.close()

    # -- plumbing -------------------------------------------------------------------------------
    def _write(self, method, path, body, query, content_type, dry_run):
        if dry_run:
            query = [*list(query), ("dryRun", "All")]
        self.requests["dry-run" if dry_run else "write"] += 1
        return self._call(method, path, query=query, body=body, content_type=content_type)

    def _call(self, method, path, query=None, body=None, content_type=None, count=None, accept="application/json"):
        if count:
            self.requests[count] += 1
        data = self._raw(method, path, query=query, body=body, content_type=content_type, accept=accept).data
        return json.loads(data) if data else {}

    def _raw(self, method, path, query=None, body=None, content_type=None, stream=False, accept="application/json"):
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        token = self.connection.authorization()
        if token:
            headers["Authorization"] = token
        target = path + "?" + urlencode(query) if query else path
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        try:
            response = self.connection.transport.request(method, target, body=payload, headers=headers, stream=stream)
        except TransportError as exc:
            raise ApiError(
                "cannot reach the API server at %s: %s; check kubeconfig/context and that the server is up"
                % (self.host, exc)
            ) from None
        if 200 <= response.status < 300:
            return response
        data = response.data
        try:
            message = json.loads(data).get("message") or data
        except (TypeError, ValueError):
            message = data.decode("utf-8", "replace") if data else response.reason
        error = Conflict if response.status == 409 and method != "DELETE" else ApiError
        raise error(
            "%s %s: %s (HTTP %s)" % (method, path, message, response.status),
            status=response.status,
            reason=response.reason,
        )
