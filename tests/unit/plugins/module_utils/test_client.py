"""The REST adapter against an in-memory API server: discovery 404s, 409s, and watches that end or expire."""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import client as client_module
from ansible_collections.kubeforge.cluster.plugins.module_utils.client import KubeClient
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import ApiError, Conflict
from ansible_collections.kubeforge.cluster.plugins.module_utils.reconcile import Writer
from ansible_collections.kubeforge.cluster.plugins.module_utils.waiter import (
    rolled_out,
    wait_crd_established,
    wait_pods_replaced,
    watch_until,
)

HOST = "https://k8s.test:6443"
CORE = (
    200,
    {
        "resources": [
            {"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
            {"name": "pods", "kind": "Pod", "namespaced": True},
            {"name": "pods/log", "kind": "Pod", "namespaced": True},
        ]
    },
)
APPS = (200, {"resources": [{"name": "daemonsets", "kind": "DaemonSet", "namespaced": True}]})
APIEXTENSIONS = (
    200,
    {"resources": [{"name": "customresourcedefinitions", "kind": "CustomResourceDefinition", "namespaced": False}]},
)
PODS = "/api/v1/namespaces/kube-flannel/pods"
DAEMONSETS = "/apis/apps/v1/namespaces/kube-flannel/daemonsets"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
EXPIRED = {
    "type": "ERROR",
    "object": {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "too old resource version: 10 (25)",
        "reason": "Expired",
        "code": 410,
    },
}
SPEC = {"namespace": "kube-flannel", "daemonset": "kube-flannel-ds", "pod_selector": "app=flannel"}


def status(code, message):
    return (code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code})


class Clock:
    now = 1000.0

    def time(self):
        return self.now


class Response:
    def __init__(self, code, body):
        self.status = code
        self.reason = {200: "OK", 404: "Not Found", 409: "Conflict", 410: "Gone"}.get(code, "Error")
        if isinstance(body, list):  # a watch: one JSON event a line
            self.data = b"".join(json.dumps(event).encode() + b"\n" for event in body)
        else:
            self.data = json.dumps(body).encode()

    def stream(self, _amount):
        for start in range(0, len(self.data), 7):  # small chunks: events split across reads
            yield self.data[start : start + 7]

    def release_conn(self):
        pass


class ApiServer:
    """answers: {(method, path): [(status, body), ...]}, method WATCH for watches. A watch answer is used
    once (its body a list of events); of the others the last one repeats. A watch with no answer left
    streams nothing until its deadline (the clock jumps past it), so a test never hangs."""

    def __init__(self, answers):
        self.answers = dict((key, list(value)) for key, value in answers.items())
        self.sent = []
        self.clock = Clock()
        configuration = SimpleNamespace(host=HOST, get_api_key_with_prefix=lambda _key: "Bearer t")
        self.api = SimpleNamespace(configuration=configuration, rest_client=SimpleNamespace(pool_manager=self))

    def request(self, method, url, body=None, headers=None, preload_content=False, timeout=None):
        assert url.startswith(HOST)
        parts = urlsplit(url[len(HOST) :])
        query = dict(parse_qsl(parts.query))
        watch = query.pop("watch", None) == "true"
        key = ("WATCH" if watch else method, parts.path)
        self.sent.append((key[0], parts.path, query, json.loads(body) if body else None))
        queue = self.answers.get(key) or []
        if watch and not queue:
            self.clock.now += 3600
            return Response(200, [])
        if not queue:
            return Response(*status(404, "the server could not find the requested resource"))
        return Response(*(queue.pop(0) if watch or len(queue) > 1 else queue[0]))

    def watches(self):
        return [query for method, _path, query, _body in self.sent if method == "WATCH"]


@pytest.fixture
def server(monkeypatch):
    def start(answers):
        api = ApiServer(answers)
        monkeypatch.setattr(client_module.kube_config, "new_client_from_config", lambda **_kwargs: api.api)
        monkeypatch.setattr(client_module, "time", api.clock)
        return api, KubeClient()

    return start


def daemonset(version, **status_fields):
    done = {"observedGeneration": 2, "desiredNumberScheduled": 1, "updatedNumberScheduled": 1, "numberAvailable": 1}
    return {
        "kind": "DaemonSet",
        "metadata": {
            "name": "kube-flannel-ds",
            "namespace": "kube-flannel",
            "generation": 2,
            "uid": "ds",
            "resourceVersion": version,
        },
        "status": dict(done, **status_fields),
    }


def pod(name, uid, version):
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-flannel", "uid": uid, "resourceVersion": version},
        "spec": {"nodeName": "node-a"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def crd(version, established):
    conditions = [{"type": "Established", "status": "True"}] if established else []
    return {
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "ippools.crd.projectcalico.org", "uid": "crd", "resourceVersion": version},
        "status": {"conditions": conditions},
    }


def listing(version, *items):
    return (200, {"kind": "List", "metadata": {"resourceVersion": version}, "items": list(items)})


# -- discovery ------------------------------------------------------------------------------------
def test_a_group_discovery_404_means_not_served_and_is_asked_again_until_the_crd_is_established(server):
    pool = {"kind": "IPPool", "metadata": {"name": "default-ipv4-ippool"}, "spec": {"cidr": "192.168.0.0/16"}}
    group = "/apis/crd.projectcalico.org/v1"
    served = (200, {"resources": [{"name": "ippools", "kind": "IPPool", "namespaced": False}]})
    not_found = status(404, "the server could not find the requested resource")
    api, client = server(
        {
            ("GET", group): [not_found, not_found, not_found, served],
            ("GET", group + "/ippools/default-ipv4-ippool"): [(200, pool)],
        }
    )
    assert client.get("crd.projectcalico.org/v1", "IPPool", "default-ipv4-ippool") is None
    assert client.list_with_version("crd.projectcalico.org/v1", "IPPool") == ([], None)
    with pytest.raises(ApiError, match=r"^the API server does not serve crd.projectcalico.org/v1 IPPool; is its CRD"):
        client.patch("crd.projectcalico.org/v1", "IPPool", "default-ipv4-ippool", None, {"spec": {}})
    assert client.get("crd.projectcalico.org/v1", "IPPool", "default-ipv4-ippool") == pool
    assert client.get("crd.projectcalico.org/v1", "IPPool", "default-ipv4-ippool") == pool  # discovery cached
    assert [(method, path) for method, path, _query, _body in api.sent] == [
        ("GET", group),
        ("GET", group),
        ("GET", group),
        ("GET", group),
        ("GET", group + "/ippools/default-ipv4-ippool"),
        ("GET", group + "/ippools/default-ipv4-ippool"),
    ]
    assert client.requests == {"GET": 6, "LIST": 0, "WATCH": 0, "write": 0, "dry-run": 0}


def test_a_discovery_failure_other_than_404_is_an_error_with_the_servers_message(server):
    _api, client = server({("GET", "/apis/crd.projectcalico.org/v1"): [status(403, 'User "ci" cannot get path')]})
    with pytest.raises(ApiError, match=r'^GET /apis/crd.projectcalico.org/v1: User "ci" cannot get path \(HTTP 403\)$'):
        client.get("crd.projectcalico.org/v1", "IPPool", "default-ipv4-ippool")


# -- conflicts ------------------------------------------------------------------------------------
CONFIGMAP = "/api/v1/namespaces/n/configmaps/c"
MODIFIED = 'Operation cannot be fulfilled on configmaps "c": the object has been modified'


def configmap(version, value):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n", "resourceVersion": version},
        "data": {"k": value},
    }


def test_a_409_is_a_conflict_on_a_patch_and_no_error_on_a_delete(server):
    _api, client = server(
        {
            ("GET", "/api/v1"): [CORE],
            ("PATCH", CONFIGMAP): [status(409, MODIFIED)],
            ("DELETE", CONFIGMAP): [status(409, MODIFIED)],
        }
    )
    with pytest.raises(
        Conflict, match=r"^PATCH /api/v1/namespaces/n/configmaps/c: Operation .* modified \(HTTP 409\)$"
    ):
        client.patch("v1", "ConfigMap", "c", "n", {"data": {"k": "w"}})
    assert client.delete("v1", "ConfigMap", "c", "n", uid="old") is None


def test_a_409_on_every_patch_is_retried_five_times_on_fresh_reads_then_fails(server):
    api, client = server(
        {
            ("GET", "/api/v1"): [CORE],
            ("GET", CONFIGMAP): [(200, configmap("7", "v"))],
            ("PATCH", CONFIGMAP): [status(409, MODIFIED)],
        }
    )
    writer = Writer(client)
    with pytest.raises(ApiError, match=r"^ConfigMap n/c kept changing under us \(5 conflicts\); run again$") as failure:
        writer.ensure(
            configmap("6", "v"),
            lambda live: dict(live, data={"k": "w"}),
            lambda: client.get("v1", "ConfigMap", "c", "n"),
        )
    assert type(failure.value) is ApiError  # not the last Conflict leaking out
    patches = [(path, body) for method, path, _query, body in api.sent if method == "PATCH"]
    assert (
        patches
        == [(CONFIGMAP, {"data": {"k": "w"}, "metadata": {"resourceVersion": "6"}})]
        + [(CONFIGMAP, {"data": {"k": "w"}, "metadata": {"resourceVersion": "7"}})] * 4
    )
    assert client.requests == {"GET": 6, "LIST": 0, "WATCH": 0, "write": 5, "dry-run": 0}
    assert writer.updated == [] and not writer.changed


# -- watches --------------------------------------------------------------------------------------
def test_a_watch_the_server_ends_early_is_resumed_from_the_last_resource_version(server):
    api, client = server(
        {
            ("GET", "/apis/apps/v1"): [APPS],
            ("GET", DAEMONSETS): [listing("5", daemonset("5", numberAvailable=0))],
            ("WATCH", DAEMONSETS): [
                (200, [{"type": "MODIFIED", "object": daemonset("6", numberAvailable=0)}]),  # then the server closes
                (200, [{"type": "MODIFIED", "object": daemonset("7")}]),
            ],
        }
    )
    done = lambda items: bool(items) and all(map(rolled_out, items.values()))  # noqa: E731
    assert watch_until(client, "apps/v1", "DaemonSet", done, 300, "kube-flannel", "metadata.name=kube-flannel-ds")
    assert [(query.get("resourceVersion"), query["fieldSelector"]) for query in api.watches()] == [
        ("5", "metadata.name=kube-flannel-ds"),
        ("6", "metadata.name=kube-flannel-ds"),
    ]
    assert client.requests == {"GET": 1, "LIST": 1, "WATCH": 2, "write": 0, "dry-run": 0}


def test_an_expired_watch_neither_fails_nor_resumes_from_the_expired_version_and_the_crd_wait_goes_on(server):
    established = crd("30", established=True)
    api, client = server(
        {
            ("GET", "/apis/apiextensions.k8s.io/v1"): [APIEXTENSIONS],
            ("GET", CRDS): [listing("10", crd("10", established=False)), listing("30", established)],
            ("WATCH", CRDS): [(200, [EXPIRED]), (200, [{"type": "ADDED", "object": established}])],
        }
    )
    wait_crd_established(client, "ippools.crd.projectcalico.org", timeout=60)
    versions = [query.get("resourceVersion") for query in api.watches()]
    assert versions[0] == "10" and "10" not in versions[1:]


PODS_OF_A_ROLLED_OUT_DAEMONSET = {
    ("GET", "/api/v1"): [CORE],
    ("GET", "/apis/apps/v1"): [APPS],
    ("GET", DAEMONSETS): [listing("9", daemonset("9"))],
    # The old pod is deleted and its successor ready while no watch runs: a list shows it, a watch cannot.
    ("GET", PODS): [listing("10", pod("old-a", "u1", "10")), listing("25", pod("new-a", "u3", "24"))],
}


def test_an_expired_watch_re_lists_so_a_pod_deleted_meanwhile_does_not_hold_up_the_wait(server):
    answers = dict(PODS_OF_A_ROLLED_OUT_DAEMONSET)
    # After the expiry a watch from the current state only ADDs what exists; old-a's DELETED is lost.
    answers["WATCH", PODS] = [(200, [EXPIRED]), (200, [{"type": "ADDED", "object": pod("new-a", "u3", "24")}])]
    _api, client = server(answers)
    wait_pods_replaced(client, SPEC, [pod("old-a", "u1", "10")], {"node-a": {}}, 300)


def test_a_410_answer_to_a_watch_request_re_lists_and_goes_on(server):
    answers = dict(PODS_OF_A_ROLLED_OUT_DAEMONSET)
    answers["WATCH", PODS] = [status(410, "too old resource version: 10 (25)")]
    _api, client = server(answers)
    wait_pods_replaced(client, SPEC, [pod("old-a", "u1", "10")], {"node-a": {}}, 300)


def test_an_expiry_costs_one_list_more_and_another_error_answer_to_a_watch_is_still_an_error(server):
    answers = dict(PODS_OF_A_ROLLED_OUT_DAEMONSET)
    answers["WATCH", PODS] = [status(410, "too old resource version: 10 (25)")]
    _api, client = server(answers)
    wait_pods_replaced(client, SPEC, [pod("old-a", "u1", "10")], {"node-a": {}}, 300)
    assert client.requests == {"GET": 2, "LIST": 3, "WATCH": 1, "write": 0, "dry-run": 0}
    answers["WATCH", PODS] = [status(403, 'User "ci" cannot watch pods')]
    _api, client = server(answers)
    with pytest.raises(ApiError, match=r'^GET /api/v1/namespaces/kube-flannel/pods: User "ci" cannot watch pods'):
        wait_pods_replaced(client, SPEC, [pod("old-a", "u1", "10")], {"node-a": {}}, 300)


# -- existence by name ----------------------------------------------------------------------------
def test_names_lists_only_the_metadata_of_a_kind(server):
    crds = listing("5", {"metadata": {"name": "a.example.org"}}, {"metadata": {"name": "b.example.org"}})
    api, client = server({("GET", "/apis/apiextensions.k8s.io/v1"): [APIEXTENSIONS], ("GET", CRDS): [crds]})
    accepted = []
    answer = api.request

    def request(method, url, body=None, headers=None, **options):
        accepted.append(headers["Accept"])
        return answer(method, url, body=body, headers=headers, **options)

    api.request = request
    assert client.names("apiextensions.k8s.io/v1", "CustomResourceDefinition") == {"a.example.org", "b.example.org"}
    # Not 23 schemas of Calico's CRDs: the server sends the objects' metadata only.
    assert accepted[-1].split(",")[0] == "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    assert client.requests == {"GET": 1, "LIST": 1, "WATCH": 0, "write": 0, "dry-run": 0}  # GET: discovery, once


def test_names_of_a_kind_with_no_objects_is_empty_though_the_server_sends_null_items(server):
    # A PartialObjectMetadataList with no items has "items": null (a nil slice in Go).
    empty = (200, {"kind": "PartialObjectMetadataList", "metadata": {"resourceVersion": "5"}, "items": None})
    _api, client = server({("GET", "/apis/apiextensions.k8s.io/v1"): [APIEXTENSIONS], ("GET", CRDS): [empty]})
    assert client.names("apiextensions.k8s.io/v1", "CustomResourceDefinition") == set()
