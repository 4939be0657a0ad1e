# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only I/O of the collection's modules: a small REST adapter on the `kubernetes` client.

Raw REST with per-group discovery instead of the dynamic client: the dynamic client discovers every
API group on each run, which costs dozens of requests the modules never need.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

try:
    from urllib.parse import urlencode

    from kubernetes import config as kube_config
    from urllib3 import Timeout
    from urllib3.exceptions import HTTPError as Urllib3Error

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc
    Urllib3Error = Exception

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import FIELD_MANAGER
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import ApiError, Conflict, InputError

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
# A list of the objects' metadata only (the API server's PartialObjectMetadataList), else the whole list.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


def split_api_version(api_version):
    if "/" in api_version:
        return tuple(api_version.split("/", 1))
    return "", api_version


class KubeClient:
    def __init__(self, kubeconfig=None, context=None, field_manager=FIELD_MANAGER):
        try:
            self.api = kube_config.new_client_from_config(config_file=kubeconfig, context=context)
        except (kube_config.ConfigException, OSError, TypeError) as exc:
            raise InputError(
                "cannot load the kubeconfig %s%s: %s; pass kubeconfig= (and context=) or set KUBECONFIG"
                % (kubeconfig or "(default)", " context %s" % context if context else "", exc)
            ) from None
        self.host = self.api.configuration.host
        self.field_manager = field_manager
        self._resources = {}
        self.requests = {"GET": 0, "LIST": 0, "WATCH": 0, "write": 0, "dry-run": 0}

    # -- discovery ------------------------------------------------------------------------------
    def resource(self, api_version, kind):
        """(collection path builder, namespaced) of a kind, discovering its group version once."""
        if api_version not in self._resources:
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
            if not kinds:
                return None  # not cached: the group may appear once its CRDs are established
            self._resources[api_version] = kinds
        return self._resources[api_version].get(kind)

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
        response = self._raw("GET", self.path("v1", "Pod", namespace, name) + "/log", query=query, accept="*/*")
        data = response.data
        response.release_conn()
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
                for line in _lines(response):
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        # Mostly 410 Expired; after any error the stream cannot be trusted to resume.
                        yield "EXPIRED", None
                        return
                    resource_version = event["object"]["metadata"].get("resourceVersion", resource_version)
                    yield event["type"], event["object"]
            finally:
                response.release_conn()

    # -- plumbing -------------------------------------------------------------------------------
    def _write(self, method, path, body, query, content_type, dry_run):
        if dry_run:
            query = [*list(query), ("dryRun", "All")]
        self.requests["dry-run" if dry_run else "write"] += 1
        return self._call(method, path, query=query, body=body, content_type=content_type)

    def _call(self, method, path, query=None, body=None, content_type=None, count=None, accept="application/json"):
        if count:
            self.requests[count] += 1
        response = self._raw(method, path, query=query, body=body, content_type=content_type, accept=accept)
        data = response.data
        response.release_conn()
        return json.loads(data) if data else {}

    def _raw(self, method, path, query=None, body=None, content_type=None, stream=False, accept="application/json"):
        # The client's own urllib3 pool (TLS and proxy from the kubeconfig) with our own requests: its
        # call_api signature changed between client releases, the pool did not.
        config = self.api.configuration
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        if getattr(config, "refresh_api_key_hook", None):
            config.refresh_api_key_hook(config)  # exec and OIDC auth plugins renew tokens here
        token = config.get_api_key_with_prefix("authorization")
        if token:
            headers["Authorization"] = token
        url = self.host + path
        if query:
            url += "?" + urlencode(query)
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        try:
            response = self.api.rest_client.pool_manager.request(
                method,
                url,
                body=payload,
                headers=headers,
                preload_content=False,
                timeout=Timeout(connect=10, read=None if stream else 60),
            )
        except (Urllib3Error, OSError) as exc:
            raise ApiError(
                "cannot reach the API server at %s: %s; check kubeconfig/context and that the server is up"
                % (self.host, exc)
            ) from None
        if 200 <= response.status < 300:
            return response
        data = response.data
        response.release_conn()
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


def _lines(response):
    buffer = b""
    for chunk in response.stream(4096):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line
