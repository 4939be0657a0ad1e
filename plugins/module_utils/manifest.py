# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upstream manifests: where to get one (URL with sha256, local file, mirror), cached; and pure object helpers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import json
import os
import re
import tempfile

try:
    import yaml

    # libyaml parses calico.yaml in 0.06 s, PyYAML's pure-Python loader in 0.7 s; both give the same objects.
    YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
except ImportError:  # pragma: no cover - the kubernetes client, which the modules require, depends on PyYAML
    yaml = None

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    known_sha256,
    manifest_url,
    mirror_path,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, ManifestError

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Upstream tags releases vMAJOR.MINOR.PATCH; the URL and the mirror layout are built from it.
VERSION_RE = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$")
# Applied first: the API server must know a CRD (and a namespace) before objects that use it.
KIND_ORDER = ("Namespace", "CustomResourceDefinition")


class ManifestSource:
    """Where the manifest of a CNI version comes from; exactly one of url, path, mirror."""

    def __init__(self, cni, version, url=None, sha256=None, path=None, mirror=None, operator_file=None):
        if sha256 is not None and not SHA256_RE.match(sha256.lower()):
            raise InputError("manifest_sha256=%r is not a sha256 (64 hex digits)" % sha256)
        if not VERSION_RE.match(version):
            raise InputError("version=%r is not a release tag; write it as upstream tags it, e.g. v1.2.3" % version)
        self.cni = cni
        self.version = version
        self.mirror = mirror
        # The user named a file of their own: its version is the one asked for.
        self.given_file = bool(url or path)
        self.path = path or (os.path.join(mirror, mirror_path(cni, version, operator_file)) if mirror else None)
        self.url = None if self.path else (url or manifest_url(cni, version, operator_file))
        default_sha = known_sha256(cni, version, operator_file) if not url and not path else None
        self.sha256 = (sha256 or default_sha or "").lower() or None
        if self.url and not self.sha256:
            # A download is only as good as its checksum: never install what nobody pinned.
            raise InputError(
                "no sha256 is known for %s %s (%s); pass manifest_sha256, or take the file from manifest_mirror or "
                "manifest_path" % (cni, version, self.url)
            )

    def describe(self):
        return self.path or self.url

    def at_version(self, version):
        """The same kind of source for another version: the mirror's file of it, or its upstream URL."""
        return ManifestSource(self.cni, version, mirror=self.mirror)

    def operator_file(self, name):
        """One of the Tigera operator's release files of this Calico version, from the same mirror or upstream."""
        return ManifestSource(self.cni, self.version, mirror=self.mirror, operator_file=name)


def check_manifest_file(source):
    """A manifest read from a file (manifest_path, or the version's file in manifest_mirror) must be there."""
    if source.path and not os.path.isfile(source.path):
        given = "manifest_path" if source.mirror is None else "manifest_mirror %s" % source.mirror
        raise InputError(
            "the manifest %s does not exist on this host (from %s); put the file there, or fix the path or version"
            % (source.path, given)
        )


def cache_dir():
    root = os.environ.get("KUBEFORGE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kubeforge"
    )
    return os.path.join(root, "manifests")


def read_manifest(source, fetch_url):
    """The manifest text, checked against its sha256; downloads are cached by checksum.

    fetch_url(url) -> bytes is the caller's downloader (Ansible's open_url in the module).
    Returns (text, warnings).
    """
    warnings = []
    if source.path:
        try:
            with open(source.path, "rb") as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            raise ManifestError("cannot read the manifest %s: %s" % (source.path, exc.strerror or exc)) from None
    else:
        cached = os.path.join(cache_dir(), source.sha256 + ".yaml") if source.sha256 else None
        if cached and os.path.exists(cached):
            with open(cached, "rb") as handle:
                data = handle.read()
            if hashlib.sha256(data).hexdigest() == source.sha256:
                return data.decode("utf-8"), warnings
        data = fetch_url(source.url)
        if cached and hashlib.sha256(data).hexdigest() == source.sha256:
            _write_atomic(cached, data)
    digest = hashlib.sha256(data).hexdigest()
    if source.sha256 and digest != source.sha256:
        raise ManifestError(
            "the manifest %s has sha256 %s, not the expected %s; check the mirror or pass manifest_sha256"
            % (source.describe(), digest, source.sha256)
        )
    if not source.sha256:
        warnings.append("no sha256 is known for %s; pass manifest_sha256 to pin it" % source.describe())
    return data.decode("utf-8"), warnings


def _write_atomic(path, data):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    handle, tmp = tempfile.mkstemp(dir=directory)
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.rename(tmp, path)


def load_yaml(text_or_file):
    """One YAML document, safely (a kubeconfig, kubeadm's ClusterConfiguration), by libyaml where it is."""
    return yaml.load(text_or_file, Loader=YAML_LOADER)


def load_documents(text, where="manifest"):
    """Objects of a multi-document YAML manifest, namespaces and CRDs first, List kinds flattened."""
    try:
        docs = [doc for doc in yaml.load_all(text, Loader=YAML_LOADER) if doc]
    except yaml.YAMLError as exc:
        raise ManifestError("%s is not valid YAML: %s" % (where, exc)) from None
    objects = []
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise ManifestError("%s holds a document that is not a Kubernetes object" % where)
        objects.extend((doc.get("items") or []) if doc["kind"].endswith("List") else [doc])
    rank = dict((kind, index) for index, kind in enumerate(KIND_ORDER))
    return sorted(objects, key=lambda obj: rank.get(obj["kind"], len(KIND_ORDER)))


def parse_manifest(text, where="manifest"):
    """load_documents, cached by the text's sha256 as JSON: libyaml parses calico.yaml in 60 ms and the operator's
    CRDs in 270 ms, json reads the same objects in 2 and 11 ms. The cache is optional: an unwritable one is skipped."""
    data = text.encode("utf-8")
    cached = os.path.join(cache_dir(), "parsed", hashlib.sha256(data).hexdigest() + ".json")
    try:
        with open(cached) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        pass
    objects = load_documents(text, where)
    # TypeError: a YAML date or binary value, which JSON cannot hold; then the manifest is parsed every time.
    with contextlib.suppress(IOError, OSError, TypeError, ValueError):
        _write_atomic(cached, json.dumps(objects).encode("utf-8"))
    return objects


def object_key(obj):
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])


def describe(obj):
    meta = obj["metadata"]
    where = "%s/%s" % (meta["namespace"], meta["name"]) if meta.get("namespace") else meta["name"]
    return "%s %s" % (obj["kind"], where)


def find(objects, kind, name):
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    return None


def replace_registry(image, registry):
    """ghcr.io/flannel-io/flannel:v1 with registry mirror.local/x -> mirror.local/x/flannel-io/flannel:v1."""
    first, _slash, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        image = rest
    return "%s/%s" % (registry.rstrip("/"), image)


def pod_containers(obj):
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def image_tag(obj, container_name):
    for container in pod_containers(obj):
        if container["name"] == container_name:
            image = container.get("image", "")
            return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
    return None
