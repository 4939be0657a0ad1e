"""The cni_config core, pure: request validation, the pod CIDR decision, patches, conflict handling."""

from __future__ import annotations

import itertools

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import cni
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import CNIS, MatrixError
from ansible_collections.kubeforge.cluster.plugins.module_utils.kube import Conflict

PSK = "pXW2Yh4j8bqvZ0cNc0q1o2iHn0m6g0cQW1K7o1Xx6kA="
OPTION_SAMPLES = {
    "vni": 4096,
    "port": 4789,
    "direct_routing": True,
    "gbp": True,
    "psk": PSK,
    "listen_port": 51830,
    "wireguard_mode": "auto",
    "mtu": 1400,
}


def params(**values):
    base = dict.fromkeys(
        [
            "backend",
            "calico_backend",
            "pod_cidr",
            "version",
            "manifest_url",
            "manifest_sha256",
            "manifest_path",
            "manifest_mirror",
            "image_registry",
            "mtu",
            "encapsulation",
            *cni.FLANNEL_OPTIONS,
        ]
    )
    base.update(restart="auto", wait=True, wait_timeout=300)
    base.update(values)
    return base


def every_cni_backend_option():
    for name, spec in CNIS.items():
        for backend, backend_spec in spec["backends"].items():
            options = backend_spec.get("options", ())
            yield name, backend, {}
            for option in options:
                yield name, backend, {option: OPTION_SAMPLES[option]}
            if name == "calico" and backend_spec["pool_mode"]:
                for mode in ("Always", "CrossSubnet"):
                    yield name, backend, {"encapsulation": mode}
            if name == "calico":
                yield name, backend, {"mtu": 1440}


@pytest.mark.parametrize(("cni_name", "backend", "options"), list(every_cni_backend_option()))
def test_every_cni_backend_and_option_is_accepted(cni_name, backend, options):
    request = cni.build_request(params(cni=cni_name, backend=backend, **options))
    assert request.backend == backend
    assert request.version == CNIS[cni_name]["version"]
    assert request.source.sha256  # the pinned default manifest is checksummed


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cni": "calico", "calico_backend": "ipip"}, "calico_backend: ipip is not a Calico value"),
        ({"cni": "calico", "calico_backend": "none"}, "none is policy-only: use cni=canal"),
        ({"cni": "flannel", "calico_backend": "bird"}, "calico_backend applies to cni=calico only"),
        ({"cni": "calico", "calico_backend": "bird", "backend": "ipip"}, "give backend= or calico_backend="),
        ({"cni": "flannel", "backend": "bgp"}, "not a backend of flannel"),
        ({"cni": "calico", "backend": "udp"}, "not a backend of calico"),
        ({"cni": "flannel", "pod_cidr": "10.244.0.0/33"}, "pod_cidr='10.244.0.0/33' is not a network CIDR"),
        ({"cni": "flannel", "pod_cidr": "10.244.1.1/16"}, "has host bits set"),
        ({"cni": "calico", "pod_cidr": "fd00::/48"}, "only IPv4"),
        ({"cni": "calico", "vni": 3}, "vni apply to flannel and canal backends, not to calico"),
        ({"cni": "flannel", "encapsulation": "Always"}, "encapsulation applies to Calico"),
        ({"cni": "calico", "backend": "bgp", "encapsulation": "Always"}, "does not apply to backend bgp"),
        ({"cni": "flannel", "backend": "host-gw", "mtu": 1400}, "mtu does not apply to flannel backend host-gw"),
        ({"cni": "flannel", "mtu": 99999}, "mtu=99999 is out of range"),
        ({"cni": "canal", "backend": "wireguard", "psk": "short"}, "not a WireGuard key"),
        ({"cni": "flannel", "manifest_sha256": "abc"}, "manifest_sha256='abc' is not a sha256"),
        ({"cni": "flannel", "image_registry": "/"}, "image_registry is empty"),
        ({"cni": "flannel", "restart": "sometimes"}, "restart='sometimes'"),
    ],
)
def test_bad_input_gets_one_clear_error(values, message):
    with pytest.raises(MatrixError, match=message):
        cni.build_request(params(**values))


def test_calico_backend_bird_means_bgp():
    assert cni.build_request(params(cni="calico", calico_backend="bird")).backend == "bgp"


def test_manifest_sources():
    mirror = cni.build_request(params(cni="canal", manifest_mirror="/srv/mirror")).source
    assert mirror.path == "/srv/mirror/calico/v3.32.1/canal.yaml" and mirror.sha256
    custom = cni.build_request(params(cni="flannel", manifest_url="https://mirror.example/f.yml")).source
    assert custom.url == "https://mirror.example/f.yml" and custom.sha256 is None
    old = cni.build_request(params(cni="calico", version="v3.26.1")).source
    assert old.url.endswith("/v3.26.1/manifests/calico.yaml") and old.sha256.startswith("5e71ad6c")


@pytest.mark.parametrize(
    ("requested", "cni_name", "kubeadm", "live", "expected"),
    [
        (None, "flannel", None, None, "10.244.0.0/16"),
        (None, "calico", None, None, "192.168.0.0/16"),
        (None, "calico", "10.244.0.0/16", None, "10.244.0.0/16"),  # as calico-node reads kubeadm-config
        (None, "flannel", "10.244.0.0/16", "10.244.0.0/16", "10.244.0.0/16"),
        ("10.50.0.0/16", "flannel", "10.50.0.0/16", None, "10.50.0.0/16"),
    ],
)
def test_pod_cidr_comes_from_the_cluster_then_the_default(requested, cni_name, kubeadm, live, expected):
    assert cni.decide_pod_cidr(requested, cni_name, kubeadm, live, {"n1": None}) == expected


@pytest.mark.parametrize(
    ("requested", "kubeadm", "live", "nodes", "message"),
    [
        ("10.50.0.0/16", "10.244.0.0/16", None, {}, "disagrees with kubeadm-config ClusterConfiguration"),
        ("10.244.0.0/16", None, "10.245.0.0/16", {}, "disagrees with the live flannel configuration"),
        (None, "10.244.0.0/16", "10.245.0.0/16", {}, "is a migration"),
        ("10.244.0.0/16", None, None, {"n1": "10.99.0.0/24"}, r"node podCIDRs lie outside .* n1 \(10.99.0.0/24\)"),
    ],
)
def test_pod_cidr_mismatch_is_refused(requested, kubeadm, live, nodes, message):
    with pytest.raises(MatrixError, match=message):
        cni.decide_pod_cidr(requested, "flannel", kubeadm, live, nodes)


def test_kubeadm_pod_subnet_reads_the_ipv4_part():
    configmap = {"data": {"ClusterConfiguration": "networking:\n  podSubnet: fd00::/56,10.244.0.0/16\n"}}
    assert cni.kubeadm_pod_subnet(configmap) == "10.244.0.0/16"
    assert cni.kubeadm_pod_subnet({"data": {"ClusterConfiguration": "networking: {}\n"}}) is None
    assert cni.kubeadm_pod_subnet(None) is None


def test_merge_patch_is_minimal_and_none_when_equal():
    live = {"a": 1, "b": {"c": 2, "d": [1, 2]}, "gone": True}
    desired = {"a": 1, "b": {"c": 3, "d": [1, 2]}, "new": "x"}
    assert cni.merge_patch(live, desired) == {"b": {"c": 3}, "new": "x", "gone": None}
    assert cni.merge_patch(live, live) is None
    assert cni.pick_values(live, {"b": {"c": 3}}) == {"b": {"c": 2}}


def test_stale_node_state_after_host_gw_lists_routes_per_node():
    nodes = {
        "a": {"pod_cidr": "10.244.0.0/24", "ip": "192.0.2.1"},
        "b": {"pod_cidr": "10.244.1.0/24", "ip": "192.0.2.2"},
    }
    state = cni.stale_node_state({"Backend": {"Type": "host-gw"}}, {"Backend": {"Type": "wireguard"}}, nodes)
    assert state == [
        {"node": "a", "devices": [], "routes": ["10.244.1.0/24 via 192.0.2.2"]},
        {"node": "b", "devices": [], "routes": ["10.244.0.0/24 via 192.0.2.1"]},
    ]
    vxlan = cni.stale_node_state({"Backend": {"Type": "vxlan"}}, {"Backend": {"Type": "host-gw"}}, nodes)
    assert [entry["devices"] for entry in vxlan] == [["flannel.1"], ["flannel.1"]]
    assert cni.stale_node_state({"Backend": {"Type": "vxlan"}}, {"Backend": {"Type": "vxlan"}}, nodes) == []


def test_rolled_out_needs_every_pod_updated_and_available():
    done = {
        "metadata": {"generation": 2},
        "status": {
            "observedGeneration": 2,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 3,
            "numberAvailable": 3,
        },
    }
    assert cni.rolled_out(done)
    for field, value in (("observedGeneration", 1), ("updatedNumberScheduled", 2), ("numberAvailable", 2)):
        lagging = {"metadata": done["metadata"], "status": dict(done["status"], **{field: value})}
        assert not cni.rolled_out(lagging), field


class FakeClient:
    """An API that another writer changes between our read and our patch, once."""

    def __init__(self, live):
        self.live = live
        self.patches = []
        self.versions = itertools.count(2)

    def get(self, *_args):
        return self.live

    def patch(self, api_version, kind, name, namespace, body, patch_type, dry_run):
        if body["metadata"]["resourceVersion"] != self.live["metadata"]["resourceVersion"]:
            raise Conflict("conflict", status=409)
        self.patches.append(body)
        self.live = dict(self.live, data=dict(self.live["data"], **body.get("data", {})))
        return self.live


def test_a_conflict_is_retried_on_fresh_state_keeping_the_other_writers_change():
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n", "resourceVersion": "1"},
        "data": {"mine": "old"},
    }
    client = FakeClient(live)
    # Another writer adds a key after our read: the server has moved on to resourceVersion 2.
    client.live = {
        **live,
        "metadata": {**live["metadata"], "resourceVersion": "2"},
        "data": {"mine": "old", "theirs": "kept"},
    }
    runner = cni.CniConfig(client, cni.build_request(params(cni="flannel")))
    result, changed = runner.ensure(
        live, lambda current: {**current, "data": {**current["data"], "mine": "new"}}, client.get
    )
    assert changed
    assert client.patches == [{"data": {"mine": "new"}, "metadata": {"resourceVersion": "2"}}]
    assert result["data"] == {"mine": "new", "theirs": "kept"}


def test_an_unchanged_object_sends_no_patch():
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n", "resourceVersion": "1"},
        "data": {"k": "v"},
    }
    client = FakeClient(live)
    runner = cni.CniConfig(client, cni.build_request(params(cni="flannel")))
    assert runner.ensure(live, lambda current: current, client.get) == (live, False)
    assert client.patches == []
