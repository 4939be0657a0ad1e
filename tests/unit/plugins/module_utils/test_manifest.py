"""Manifest sources: checksums, the download cache, mirrors; and the pure object helpers."""

from __future__ import annotations

import hashlib

import pytest
from ansible_collections.kubeforge.cluster.plugins.module_utils import manifest
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, ManifestError

TEXT = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n"
SHA = hashlib.sha256(TEXT).hexdigest()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBEFORGE_CACHE", str(tmp_path / "cache"))


def test_a_checksummed_download_is_cached_and_not_fetched_again():
    fetched = []

    def fetch(url):
        fetched.append(url)
        return TEXT

    source = manifest.ManifestSource("flannel", "v9.0.0", url="https://example.invalid/f.yml", sha256=SHA)
    assert manifest.read_manifest(source, fetch) == (TEXT.decode(), [])
    assert manifest.read_manifest(source, fetch) == (TEXT.decode(), [])
    assert fetched == ["https://example.invalid/f.yml"]


def test_a_wrong_checksum_is_refused_and_not_cached():
    source = manifest.ManifestSource("flannel", "v9.0.0", url="https://example.invalid/f.yml", sha256="0" * 64)
    with pytest.raises(ManifestError, match=f"has sha256 {SHA}, not the expected 0000"):
        manifest.read_manifest(source, lambda url: TEXT)
    with pytest.raises(ManifestError):
        manifest.read_manifest(source, lambda url: TEXT)


def test_a_download_nobody_pinned_is_refused_and_an_unpinned_file_warns(tmp_path):
    with pytest.raises(InputError, match=r"no sha256 is known for flannel v9.0.0 \(https://example.invalid/f.yml\)"):
        manifest.ManifestSource("flannel", "v9.0.0", url="https://example.invalid/f.yml")
    with pytest.raises(InputError, match=r"no sha256 is known for calico v3\.99\.0"):
        manifest.ManifestSource("calico", "v3.99.0")
    (tmp_path / "f.yml").write_bytes(TEXT)
    source = manifest.ManifestSource("flannel", "v9.0.0", path=str(tmp_path / "f.yml"))
    text, warnings = manifest.read_manifest(source, None)
    assert text == TEXT.decode() and "pass manifest_sha256" in warnings[0]


@pytest.mark.parametrize("version", ["0.28.9", "v9", "latest", "v1.2.3 "])
def test_a_version_that_is_no_release_tag_is_refused(version):
    with pytest.raises(InputError, match=r"is not a release tag; write it as upstream tags it, e\.g\. v1\.2\.3"):
        manifest.ManifestSource("flannel", version, sha256="0" * 64)


def test_a_manifest_file_that_is_not_there_is_named_with_where_it_came_from(tmp_path):
    missing = manifest.ManifestSource("flannel", "v0.28.9", mirror=str(tmp_path))
    with pytest.raises(InputError, match=r"kube-flannel.yml does not exist on this host \(from manifest_mirror "):
        manifest.check_manifest_file(missing)
    with pytest.raises(InputError, match=r"/nope.yml does not exist on this host \(from manifest_path\)"):
        manifest.check_manifest_file(manifest.ManifestSource("flannel", "v0.28.9", path="/nope.yml"))
    (tmp_path / "f.yml").write_bytes(TEXT)
    manifest.check_manifest_file(manifest.ManifestSource("flannel", "v0.28.9", path=str(tmp_path / "f.yml")))
    manifest.check_manifest_file(manifest.ManifestSource("flannel", "v0.28.9"))  # a download: nothing to check here


def test_mirror_layout_and_missing_file(tmp_path):
    source = manifest.ManifestSource("calico", "v3.32.1", mirror=str(tmp_path))
    assert source.path == str(tmp_path / "calico/v3.32.1/calico.yaml")
    assert source.sha256 == "a1df919d9721cf667accdc3e72848911b0cb25cfab7d2478ad0c996302c95744"
    with pytest.raises(ManifestError, match="cannot read the manifest"):
        manifest.read_manifest(source, None)


def test_documents_come_namespaces_and_crds_first_and_lists_flatten():
    text = """
kind: DaemonSet
apiVersion: apps/v1
metadata: {name: d, namespace: n}
---
kind: List
apiVersion: v1
items:
- {kind: CustomResourceDefinition, apiVersion: apiextensions.k8s.io/v1, metadata: {name: x}}
---
kind: Namespace
apiVersion: v1
metadata: {name: n}
"""
    assert [obj["kind"] for obj in manifest.load_documents(text)] == [
        "Namespace",
        "CustomResourceDefinition",
        "DaemonSet",
    ]
    with pytest.raises(ManifestError, match="not a Kubernetes object"):
        manifest.load_documents("- just\n- a list\n")


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/flannel-io/flannel:v0.28.9", "mirror.local/k8s/flannel-io/flannel:v0.28.9"),
        ("quay.io/calico/node:v3.32.1", "mirror.local/k8s/calico/node:v3.32.1"),
        ("docker.io/calico/cni:v3.26.1", "mirror.local/k8s/calico/cni:v3.26.1"),
        ("calico/cni:v3.26.1", "mirror.local/k8s/calico/cni:v3.26.1"),
        ("localhost:5000/calico/cni:v1", "mirror.local/k8s/calico/cni:v1"),
    ],
)
def test_registry_override(image, expected):
    assert manifest.replace_registry(image, "mirror.local/k8s/") == expected


def test_image_tag():
    daemonset = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "reg:5000/a/b:v1.2"}]}}}}
    assert manifest.image_tag(daemonset, "c") == "v1.2"
    assert manifest.image_tag(daemonset, "other") is None


def test_a_parsed_manifest_is_cached_by_its_checksum_and_read_back_without_yaml(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBEFORGE_CACHE", str(tmp_path))
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {k: v}\n---\n"
    text += "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n"
    first = manifest.parse_manifest(text, "m.yaml")
    assert first == manifest.load_documents(text) and first[0]["kind"] == "Namespace"
    assert len(list((tmp_path / "manifests" / "parsed").iterdir())) == 1

    def no_yaml(*_args):
        raise AssertionError("parsed again")

    monkeypatch.setattr(manifest, "load_documents", no_yaml)
    assert manifest.parse_manifest(text, "m.yaml") == first
    with pytest.raises(AssertionError, match="parsed again"):
        manifest.parse_manifest(text + "# another text\n", "m.yaml")


def test_what_json_cannot_hold_is_parsed_every_time_and_an_unwritable_cache_is_skipped(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBEFORGE_CACHE", str(tmp_path))
    dated = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {since: 2026-12-01}\n"
    assert str(manifest.parse_manifest(dated)[0]["data"]["since"]) == "2026-12-01"
    assert not (tmp_path / "manifests" / "parsed").exists()
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "parsed").write_text("not a directory")
    assert manifest.parse_manifest("apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n")[0]["kind"] == "Namespace"
