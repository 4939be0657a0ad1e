"""cni_config's input: every backend and option the matrix allows is accepted, every bad input refused with its fix."""

from __future__ import annotations

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import build_request

PSK = "pXW2Yh4j8bqvZ0cNc0q1o2iHn0m6g0cQW1K7o1Xx6kA="
OPTIONS = ("vni", "port", "direct_routing", "gbp", "psk", "listen_port", "wireguard_mode", "mtu")


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
            "encapsulation",
            *OPTIONS,
        ]
    )
    base.update(restart="auto", wait=True, wait_timeout=300)
    base.update(values)
    return base


@pytest.mark.parametrize(
    ("cni", "backend", "options", "flannel_keys", "encapsulation"),
    [
        ("flannel", "vxlan", {"vni": 4096, "port": 4789, "gbp": True}, {"VNI": 4096, "Port": 4789, "GBP": True}, None),
        ("flannel", "vxlan", {"direct_routing": True, "mtu": 1400}, {"DirectRouting": True, "MTU": 1400}, None),
        ("flannel", "host-gw", {}, {}, None),
        ("flannel", "wireguard", {"psk": PSK, "listen_port": 51830}, {"PSK": PSK, "ListenPort": 51830}, None),
        ("flannel", "wireguard", {"wireguard_mode": "auto", "mtu": 1380}, {"Mode": "auto", "MTU": 1380}, None),
        ("flannel", "udp", {"port": 8286}, {"Port": 8286}, None),
        ("flannel", "ipip", {"direct_routing": True}, {"DirectRouting": True}, None),
        ("canal", "vxlan", {"vni": 2}, {"VNI": 2}, None),
        ("canal", "wireguard", {"psk": PSK}, {"PSK": PSK}, None),
        ("calico", "ipip", {}, {}, "Always"),
        ("calico", "ipip", {"encapsulation": "CrossSubnet"}, {}, "CrossSubnet"),
        ("calico", "vxlan", {"encapsulation": "Always", "mtu": 1440}, {}, "Always"),
        ("calico", "bgp", {}, {}, None),
        ("calico", "bird", {}, {}, None),
    ],
)
def test_backends_and_their_options_are_accepted(cni, backend, options, flannel_keys, encapsulation):
    request = build_request(params(cni=cni, backend=backend, **options))
    assert request.backend == ("bgp" if backend == "bird" else backend)
    assert request.flannel_keys == flannel_keys
    assert request.encapsulation == encapsulation


@pytest.mark.parametrize(
    ("cni", "backend", "version", "sha256_prefix"),
    [
        ("flannel", "vxlan", "v0.28.9", "e875824b"),
        ("calico", "ipip", "v3.32.1", "a1df919d"),
        ("canal", "vxlan", "v3.32.1", "aa58a7b2"),
    ],
)
def test_defaults_are_the_pinned_version_and_backend(cni, backend, version, sha256_prefix):
    request = build_request(params(cni=cni))
    assert (request.backend, request.version, request.pod_cidr) == (backend, version, None)
    assert request.source.sha256.startswith(sha256_prefix)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cni": "calico", "calico_backend": "ipip"}, "calico_backend: ipip is not a Calico value"),
        (
            {"cni": "calico", "calico_backend": "none"},
            r"calico_backend='none': use bird or vxlan \(none is policy-only",
        ),
        ({"cni": "flannel", "calico_backend": "bird"}, "calico_backend applies to cni=calico only"),
        ({"cni": "calico", "calico_backend": "bird", "backend": "ipip"}, "give backend= or calico_backend="),
        ({"cni": "flannel", "backend": "bgp"}, "not a backend of flannel"),
        ({"cni": "calico", "backend": "udp"}, "not a backend of calico"),
        ({"cni": "flannel", "pod_cidr": "10.244.0.0/33"}, "pod_cidr='10.244.0.0/33' is not a network CIDR"),
        ({"cni": "flannel", "pod_cidr": "10.244.1.1/16"}, "has host bits set"),
        ({"cni": "calico", "pod_cidr": "fd00::/48"}, "IPv6-only clusters are not supported"),
        (
            {"cni": "flannel", "pod_cidr": ["10.244.0.0/16", "fd00::/56"], "backend": "udp"},
            "backend=udp of flannel cannot carry IPv6 pods .*configuration.md.*use one of: vxlan, host-gw, wireguard",
        ),
        ({"cni": "flannel", "pod_cidr": ["10.244.0.0/16", "fd00::/56"], "backend": "ipip"}, "backend=ipip of flannel"),
        (
            {"cni": "calico", "pod_cidr": ["10.244.0.0/16", "fd00::/56"]},
            "backend=ipip of calico cannot carry IPv6 pods "
            ".*IPIP is not supported on IPv6 pools.*use one of: bgp, vxlan",
        ),
        (
            {"cni": "canal", "pod_cidr": ["10.244.0.0/16", "fd00::/56"]},
            "canal.yaml's CNI configuration takes one host-local range",
        ),
        ({"cni": "flannel", "pod_cidr": ["10.244.0.0/16", "10.245.0.0/16"]}, "two IPv4 networks"),
        ({"cni": "calico", "vni": 3}, "vni apply to flannel and canal backends, not to calico"),
        ({"cni": "flannel", "encapsulation": "Always"}, "encapsulation applies to Calico"),
        ({"cni": "calico", "backend": "bgp", "encapsulation": "Always"}, "does not apply to backend bgp"),
        ({"cni": "flannel", "backend": "host-gw", "mtu": 1400}, "mtu does not apply to flannel backend host-gw"),
        (
            {"cni": "flannel", "backend": "ipip", "vni": 2},
            "vni does not apply to flannel backend ipip; it applies to: vxlan",
        ),
        ({"cni": "flannel", "mtu": 99999}, "mtu=99999 is out of range; use 576 to 9000"),
        ({"cni": "calico", "mtu": 100}, "mtu=100 is out of range; use 576 to 9000"),
        ({"cni": "canal", "backend": "wireguard", "psk": "short"}, "not a WireGuard key"),
        ({"cni": "flannel", "manifest_sha256": "abc"}, "manifest_sha256='abc' is not a sha256"),
        ({"cni": "flannel", "image_registry": "/"}, "image_registry is empty"),
        ({"cni": "flannel", "restart": "sometimes"}, "restart='sometimes'"),
        ({"cni": "weave"}, "cni='weave' is not supported; use one of: flannel, calico, canal"),
        ({"cni": "flannel", "manifest_url": "https://mirror.example/f.yml"}, "no sha256 is known for flannel v0.28.9"),
        ({"cni": "calico", "version": "v3.31.0"}, r"no sha256 is known for calico v3.31.0 .*; pass manifest_sha256"),
        ({"cni": "flannel", "version": "latest"}, "version='latest' is not a release tag"),
        ({"cni": "flannel", "backend_options": {"mtu": 1400}}, "backend_options.mtu: the MTU is an option of its own"),
        ({"cni": "flannel", "vni": 2, "backend_options": {"vni": 3}}, "vni is given both as an option and in backend_"),
        ({"cni": "flannel", "backend_options": {"psk": PSK}}, "option psk does not apply to flannel backend vxlan"),
        ({"cni": "calico", "backend_options": {"vni": 4096}}, "vni apply to flannel and canal backends, not to calico"),
        ({"cni": "flannel", "backend_options": {"encapsulation": "Always"}}, "encapsulation applies to Calico's"),
        ({"cni": "canal", "installer": "operator"}, "the Tigera operator installs Calico only; canal installs from"),
        ({"cni": "calico", "installer": "helm"}, "installer='helm': use one of manifest, operator"),
        ({"cni": "calico", "installer": "operator", "restart": "never"}, "restart=never: on an install by the Tigera"),
        (
            {"cni": "calico", "installer": "operator", "manifest_path": "/srv/calico.yaml"},
            r"manifest_url and manifest_path name calico.yaml .* \(<mirror>/calico/v3.32.1/operator/\)",
        ),
    ],
)
def test_bad_input_gets_one_clear_error(values, message):
    with pytest.raises(InputError, match=message):
        build_request(params(**values))


def test_backend_options_as_one_mapping_mean_the_options_of_the_same_names():
    request = build_request(params(cni="flannel", backend_options={"vni": 4096, "gbp": True, "port": None}))
    assert request.flannel_keys == {"VNI": 4096, "GBP": True}
    calico = build_request(params(cni="calico", backend="vxlan", backend_options={"encapsulation": "CrossSubnet"}))
    assert calico.encapsulation == "CrossSubnet"


def test_validate_only_reports_the_input_as_the_run_would_use_it():
    summary = build_request(params(cni="calico", backend="bird", manifest_mirror="/srv/m")).summary()
    assert summary == {
        "cni": "calico",
        "backend": "bgp",
        "pod_cidr": None,
        "version": "v3.32.1",
        "manifest": "/srv/m/calico/v3.32.1/calico.yaml",
    }


def test_calico_backend_spellings_mean_backends():
    assert build_request(params(cni="calico", calico_backend="bird")).backend == "bgp"
    assert build_request(params(cni="calico", calico_backend="vxlan")).backend == "vxlan"


def test_manifest_sources():
    mirror = build_request(params(cni="canal", manifest_mirror="/srv/mirror")).source
    assert mirror.path == "/srv/mirror/calico/v3.32.1/canal.yaml" and mirror.sha256.startswith("aa58a7b2")
    custom = build_request(params(cni="flannel", manifest_url="https://mirror.example/f.yml", manifest_sha256="A" * 64))
    assert custom.source.url == "https://mirror.example/f.yml" and custom.source.sha256 == "a" * 64
    old = build_request(params(cni="calico", version="v3.26.1")).source
    assert old.url.endswith("/v3.26.1/manifests/calico.yaml") and old.sha256.startswith("5e71ad6c")
