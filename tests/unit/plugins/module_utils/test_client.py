"""The REST adapter against an in-memory API server: discovery 404s, 409s, and watches that end or expire."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import client as client_module
from ansible_collections.kubeforge.cluster.plugins.module_utils.client import KubeClient
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import ApiError, Conflict
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeconfig import Connection
from ansible_collections.kubeforge.cluster.plugins.module_utils.reconcile import Writer
from ansible_collections.kubeforge.cluster.plugins.module_utils.transport import TransportError
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
            {"name": "persistentvolumeclaims", "kind": "PersistentVolumeClaim", "namespaced": True},
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
# What /api and /apis answer on a server without aggregated discovery, whatever the Accept header asks.
PLAIN_API = (200, {"kind": "APIVersions", "versions": ["v1"]})
PLAIN_APIS = (200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
BROKEN = "the connection breaks here"  # in a watch's events
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
        self.events = body if isinstance(body, list) else None  # a watch: one JSON event a line
        self.data = b"" if self.events is not None else json.dumps(body).encode()

    def lines(self):
        for event in self.events:
            if event == BROKEN:
                raise TransportError("the stream broke: connection reset by peer")
            yield json.dumps(event).encode()

    closed = False

    def close(self):
        self.closed = True


class ApiServer:
    """answers: {(method, path): [(status, body), ...]}, method WATCH for watches. A watch answer is used
    once (its body a list of events); of the others the last one repeats. A watch with no answer left
    streams nothing until its deadline (the clock jumps past it), so a test never hangs. Unless answers say
    otherwise, /api and /apis answer as a server without aggregated discovery does (the plain lists)."""

    def __init__(self, answers):
        answers = {("GET", "/api"): [PLAIN_API], ("GET", "/apis"): [PLAIN_APIS], **answers}
        self.answers = dict((key, list(value)) for key, value in answers.items())
        self.sent = []
        self.responses = []
        self.clock = Clock()
        self.connection = Connection(HOST, self, lambda: "Bearer t")

    def request(self, method, path, body=None, headers=None, stream=False):
        parts = urlsplit(path)
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
        response = Response(*(queue.pop(0) if watch or len(queue) > 1 else queue[0]))
        self.responses.append(response)
        return response

    def watches(self):
        return [query for method, _path, query, _body in self.sent if method == "WATCH"]


@pytest.fixture
def server(monkeypatch):
    def start(answers):
        api = ApiServer(answers)
        monkeypatch.setattr(client_module, "connect", lambda *_args: api.connection)
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
# A server without aggregated discovery (the in-memory one unless a test says otherwise) is asked /api or
# /apis once, then per group version.
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
        ("GET", "/apis"),  # not aggregated: never asked again
        ("GET", group),
        ("GET", group),
        ("GET", group),
        ("GET", group),
        ("GET", group + "/ippools/default-ipv4-ippool"),
        ("GET", group + "/ippools/default-ipv4-ippool"),
    ]
    assert client.requests == {"GET": 7, "LIST": 0, "WATCH": 0, "write": 0, "dry-run": 0}


def aggregated(*versions):
    """An APIGroupDiscoveryList: versions are (group, version, [(plural, kind, scope)], freshness)."""
    items = []
    for group, version, resources, freshness in versions:
        entry = {
            "version": version,
            "resources": [
                {"resource": plural, "responseKind": {"group": "", "version": "", "kind": kind}, "scope": scope}
                for plural, kind, scope in resources
            ],
            "freshness": freshness,
        }
        items.append({"metadata": {"name": group} if group else {}, "versions": [entry]})
    return (200, {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "items": items})


AGGREGATED_API = aggregated(
    (
        "",
        "v1",
        [("endpoints", "Endpoints", "Namespaced"), ("persistentvolumes", "PersistentVolume", "Cluster")],
        "Current",
    )
)
AGGREGATED_APPS = ("apps", "v1", [("daemonsets", "DaemonSet", "Namespaced")], "Current")
CALICO = ("crd.projectcalico.org", "v1", [("ippools", "IPPool", "Cluster")], "Current")


def test_aggregated_discovery_tells_every_group_in_two_requests(server):
    api, client = server({("GET", "/api"): [AGGREGATED_API], ("GET", "/apis"): [aggregated(AGGREGATED_APPS, CALICO)]})
    # The core kinds the modules use are known without asking (CORE_V1).
    assert client.path("v1", "Pod", "kube-flannel", "p") == "/api/v1/namespaces/kube-flannel/pods/p"
    assert client.path("v1", "Node", "ignored", "n") == "/api/v1/nodes/n"  # cluster-scoped
    assert api.sent == []
    assert client.path("v1", "Endpoints", "kube-flannel", "e") == "/api/v1/namespaces/kube-flannel/endpoints/e"
    assert client.path("v1", "PersistentVolume", "ignored", "v") == "/api/v1/persistentvolumes/v"
    assert client.path("apps/v1", "DaemonSet", "kube-flannel") == DAEMONSETS
    assert client.path("crd.projectcalico.org/v1", "IPPool", None, "default") == (
        "/apis/crd.projectcalico.org/v1/ippools/default"
    )
    assert client.path("v1", "Endpoints", "n") == "/api/v1/namespaces/n/endpoints"  # cached: no request more
    assert [path for _method, path, _query, _body in api.sent] == ["/api", "/apis"]
    assert client.requests["GET"] == 2


def accept_headers(api):
    """The Accept header of every request the client sends from here on."""
    accepted = []
    answer = api.request

    def request(method, url, body=None, headers=None, **options):
        accepted.append(headers["Accept"])
        return answer(method, url, body=body, headers=headers, **options)

    api.request = request
    return accepted


def test_aggregated_discovery_is_asked_for_in_the_accept_header(server):
    api, client = server({("GET", "/apis"): [aggregated(AGGREGATED_APPS)]})
    accepted = accept_headers(api)
    client.resource("apps/v1", "DaemonSet")
    assert accepted[0].split(",")[0] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert accepted[0].split(",")[-1] == "application/json"  # else the plain list


def test_a_kind_aggregated_discovery_does_not_list_is_asked_again_as_its_crd_may_have_been_created(server):
    pool = {"kind": "IPPool", "metadata": {"name": "default-ipv4-ippool"}}
    api, client = server(
        {
            ("GET", "/apis"): [
                aggregated(AGGREGATED_APPS),
                aggregated(AGGREGATED_APPS),
                aggregated(AGGREGATED_APPS, CALICO),
            ],
            ("GET", "/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool"): [(200, pool)],
        }
    )
    assert client.get("crd.projectcalico.org/v1", "IPPool", "default-ipv4-ippool") is None
    assert client.list("crd.projectcalico.org/v1", "IPPool") == []
    assert client.get("crd.projectcalico.org/v1", "IPPool", "default-ipv4-ippool") == pool
    assert client.resource("apps/v1", "DaemonSet") is not None
    assert [path for _method, path, _query, _body in api.sent] == [
        "/apis",
        "/apis",
        "/apis",
        "/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool",
    ]


def test_a_kind_missing_from_a_group_version_already_discovered_is_asked_again(server):
    felix = ("felixconfigurations", "FelixConfiguration", "Cluster")
    later = ("crd.projectcalico.org", "v1", [*CALICO[2], felix], "Current")
    api, client = server({("GET", "/apis"): [aggregated(CALICO), aggregated(later)]})
    assert client.resource("crd.projectcalico.org/v1", "IPPool") is not None
    assert client.resource("crd.projectcalico.org/v1", "FelixConfiguration") == (
        "/apis/crd.projectcalico.org/v1",
        "felixconfigurations",
        False,
    )
    assert [path for _method, path, _query, _body in api.sent] == ["/apis", "/apis"]


def test_a_stale_group_version_of_aggregated_discovery_is_asked_on_its_own(server):
    stale = ("metrics.k8s.io", "v1beta1", [("pods", "PodMetrics", "Namespaced")], "Stale")
    group = (200, {"resources": [{"name": "pods", "kind": "PodMetrics", "namespaced": True}]})
    api, client = server(
        {("GET", "/apis"): [aggregated(AGGREGATED_APPS, stale)], ("GET", "/apis/metrics.k8s.io/v1beta1"): [group]}
    )
    assert client.path("metrics.k8s.io/v1beta1", "PodMetrics", "n") == "/apis/metrics.k8s.io/v1beta1/namespaces/n/pods"
    assert [path for _method, path, _query, _body in api.sent] == ["/apis", "/apis/metrics.k8s.io/v1beta1"]


def test_a_server_without_aggregated_discovery_is_asked_per_group_version_and_once_only_for_the_aggregate(server):
    api, client = server({("GET", "/apis/apps/v1"): [APPS], ("GET", "/api/v1"): [CORE]})
    client.resource("apps/v1", "DaemonSet")
    client.resource("v1", "PersistentVolumeClaim")
    assert client.resource("v1", "PersistentVolumeClaim") == ("/api/v1", "persistentvolumeclaims", True)
    assert [path for _method, path, _query, _body in api.sent] == ["/apis", "/apis/apps/v1", "/api/v1"]


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
    assert client.requests == {"GET": 5, "LIST": 0, "WATCH": 0, "write": 5, "dry-run": 0}
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
    assert client.requests == {"GET": 2, "LIST": 1, "WATCH": 2, "write": 0, "dry-run": 0}


def test_a_watch_left_once_its_caller_has_what_it_waited_for_is_closed_not_left_streaming(server):
    api, client = server(
        {
            ("GET", "/apis/apps/v1"): [APPS],
            ("GET", DAEMONSETS): [listing("5", daemonset("5", numberAvailable=0))],
            ("WATCH", DAEMONSETS): [
                (200, [{"type": "MODIFIED", "object": daemonset("6")}, {"type": "MODIFIED", "object": daemonset("7")}])
            ],
        }
    )
    done = lambda items: bool(items) and all(map(rolled_out, items.values()))  # noqa: E731
    assert watch_until(client, "apps/v1", "DaemonSet", done, 300, "kube-flannel", "metadata.name=kube-flannel-ds")
    assert api.responses[-1].closed  # the server would stream it on for 300 s


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


def test_a_watch_whose_connection_breaks_re_lists_and_goes_on(server):
    answers = dict(PODS_OF_A_ROLLED_OUT_DAEMONSET)
    answers["WATCH", PODS] = [(200, [BROKEN]), (200, [{"type": "ADDED", "object": pod("new-a", "u3", "24")}])]
    api, client = server(answers)
    wait_pods_replaced(client, SPEC, [pod("old-a", "u1", "10")], {"node-a": {}}, 300)
    assert [method for method, path, _query, _body in api.sent if path == PODS] == ["GET", "WATCH", "GET"]


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
    accepted = accept_headers(api)
    assert client.names("apiextensions.k8s.io/v1", "CustomResourceDefinition") == {"a.example.org", "b.example.org"}
    # Not 23 schemas of Calico's CRDs: the server sends the objects' metadata only.
    assert accepted[-1].split(",")[0] == "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    assert client.requests == {"GET": 2, "LIST": 1, "WATCH": 0, "write": 0, "dry-run": 0}  # GET: discovery


def test_names_of_a_kind_with_no_objects_is_empty_though_the_server_sends_null_items(server):
    # A PartialObjectMetadataList with no items has "items": null (a nil slice in Go).
    empty = (200, {"kind": "PartialObjectMetadataList", "metadata": {"resourceVersion": "5"}, "items": None})
    _api, client = server({("GET", "/apis/apiextensions.k8s.io/v1"): [APIEXTENSIONS], ("GET", CRDS): [empty]})
    assert client.names("apiextensions.k8s.io/v1", "CustomResourceDefinition") == set()


# -- deleting a DaemonSet's old pods --------------------------------------------------------------
def labelled_pod(name, generation):
    labels = {"app": "flannel"}
    if generation is not None:
        labels["pod-template-generation"] = generation
    return {"metadata": {"name": name, "uid": "uid-" + name, "labels": labels}}


def test_old_pods_whose_generations_are_all_below_the_daemonsets_are_deleted_in_one_request(server):
    api, client = server({("GET", "/api/v1"): [CORE], ("DELETE", PODS): [listing("9")]})
    old = [labelled_pod("a", "3"), labelled_pod("b", "2"), labelled_pod("c", "3")]
    client.delete_pods("kube-flannel", old, "app=flannel", generation=4)
    deletes = [(path, query) for method, path, query, _body in api.sent if method == "DELETE"]
    # A pod the DaemonSet made at generation 4 (or later) is not selected, though it is app=flannel.
    assert deletes == [(PODS, {"labelSelector": "app=flannel,pod-template-generation in (2,3)"})]
    assert client.requests["write"] == 1


@pytest.mark.parametrize(
    "generations, daemonset_generation",
    [(["3", None], 4), (["3", "4"], 4), (["3", "x"], 4), (["3"], None)],
    ids=["a pod without the label", "a pod of the current generation", "a label not a number", "no generation"],
)
def test_old_pods_that_the_generation_cannot_tell_apart_are_deleted_one_by_one_with_their_uids(
    server, generations, daemonset_generation
):
    answers = {("GET", "/api/v1"): [CORE], ("DELETE", PODS): [listing("9")]}
    answers.update((("DELETE", PODS + "/" + n), [(200, {})]) for n in ("a", "b"))
    api, client = server(answers)
    old = [labelled_pod(name, generation) for name, generation in zip(("a", "b"), generations, strict=False)]
    client.delete_pods("kube-flannel", old, "app=flannel", generation=daemonset_generation)
    deletes = [(path, body["preconditions"]) for method, path, _query, body in api.sent if method == "DELETE"]
    assert deletes == [(PODS + "/" + p["metadata"]["name"], {"uid": p["metadata"]["uid"]}) for p in old]


def test_a_collection_delete_of_pods_already_gone_is_no_error(server):
    _api, client = server({("GET", "/api/v1"): [CORE]})  # DELETE: 404
    client.delete_pods("kube-flannel", [labelled_pod("a", "1")], "app=flannel", generation=2)
