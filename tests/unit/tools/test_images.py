"""tools/images.py, pure: image names from kubeadm and the manifest, ldd's output, the docker-archive layout."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
from images import (
    Entry,
    Image,
    ImageError,
    archive_name,
    image_config,
    normalized,
    parse_kubeadm_images,
    parse_ldd,
    parse_manifest_images,
    short_name,
    split_ref,
    version_mismatch,
    write_docker_archive,
    write_layer,
)

from tests.conftest import upstream_dir

KUBEADM_LIST = """registry.k8s.io/kube-apiserver:v1.36.3
registry.k8s.io/kube-controller-manager:v1.36.3
registry.k8s.io/kube-scheduler:v1.36.3
registry.k8s.io/kube-proxy:v1.36.3
registry.k8s.io/coredns/coredns:v1.13.1
registry.k8s.io/pause:3.10.2
registry.k8s.io/etcd:3.6.6-0
"""

MANIFEST = """
      initContainers:
      - name: install-cni-plugin
        image: ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3
        command:
        - cp
      - name: install-cni
        image: ghcr.io/flannel-io/flannel:v0.28.9
      containers:
      - image: "ghcr.io/flannel-io/flannel:v0.28.9"  # the same image twice
        name: kube-flannel
"""


def test_kubeadm_list_gives_every_reference_in_order():
    refs = parse_kubeadm_images(KUBEADM_LIST + "\n")
    assert refs[0] == "registry.k8s.io/kube-apiserver:v1.36.3"
    assert "registry.k8s.io/coredns/coredns:v1.13.1" in refs
    assert [short_name(r) for r in refs] == [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
        "coredns",
        "pause",
        "etcd",
    ]


def test_kubeadm_noise_is_refused():
    with pytest.raises(ImageError, match="unexpected line"):
        parse_kubeadm_images("W0101 could not fetch a Kubernetes version from the internet\n")


def test_manifest_images_are_distinct_and_unquoted():
    assert parse_manifest_images(MANIFEST) == [
        "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3",
        "ghcr.io/flannel-io/flannel:v0.28.9",
    ]


def test_the_real_flannel_manifest_names_two_images():
    manifest = upstream_dir() / "flannel" / "v0.28.9" / "kube-flannel.yml"
    if not manifest.is_file():
        pytest.skip(f"{manifest} is not here")
    refs = parse_manifest_images(manifest.read_text())
    assert [short_name(r) for r in refs] == ["flannel-cni-plugin", "flannel"]
    assert all(split_ref(r)[1] for r in refs)


@pytest.mark.parametrize(
    ("ref", "repository", "tag", "file"),
    [
        ("registry.k8s.io/pause:3.10.2", "registry.k8s.io/pause", "3.10.2", "registry.k8s.io_pause_3.10.2.tar"),
        ("localhost:5000/etcd:3.6.6-0", "localhost:5000/etcd", "3.6.6-0", "localhost_5000_etcd_3.6.6-0.tar"),
    ],
)
def test_references_split_at_the_tag(ref, repository, tag, file):
    assert split_ref(ref) == (repository, tag)
    assert archive_name(ref) == file


def test_a_reference_without_tag_is_refused():
    with pytest.raises(ImageError, match="no tag"):
        split_ref("localhost:5000/etcd")


@pytest.mark.parametrize(
    ("ref", "output", "mismatch"),
    [
        ("registry.k8s.io/kube-proxy:v1.36.3", "Kubernetes v1.36.3\n", None),
        ("registry.k8s.io/etcd:3.6.8-0", "etcd Version: 3.6.8\nGit SHA: …\n", None),
        ("ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3", "CNI Plugin flannel version v1.9.1-flannel1", None),
        ("registry.k8s.io/coredns/coredns:v1.14.2", "CoreDNS-1.13.1\nlinux/amd64", "version 1.13.1"),
        ("ghcr.io/flannel-io/flannel:v0.28.9", "flag provided but not defined", "cannot tell"),
        ("registry.k8s.io/pause:latest", "", None),
    ],
)
def test_version_of_the_program_is_compared_with_the_tag(ref, output, mismatch):
    found = version_mismatch(ref, output)
    assert found is None if mismatch is None else mismatch in found


LDD_ONE = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibxtables.so.12 => /lib/x86_64-linux-gnu/libxtables.so.12 (0x00007f1f)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1f)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f1f)
"""
LDD_MANY = """/usr/sbin/conntrack:
\tlinux-vdso.so.1 (0x00007ffd)
\tlibmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f95)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f95)
/bin/busybox:
\tnot a dynamic executable
"""


def test_ldd_gives_libraries_and_the_loader():
    assert parse_ldd(LDD_ONE, ["/usr/sbin/xtables-nft-multi"]) == {
        "/usr/sbin/xtables-nft-multi": [
            "/lib/x86_64-linux-gnu/libxtables.so.12",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2",
        ]
    }
    assert parse_ldd(LDD_MANY, ["/usr/sbin/conntrack", "/bin/busybox"]) == {
        "/usr/sbin/conntrack": ["/lib/x86_64-linux-gnu/libmnl.so.0", "/lib64/ld-linux-x86-64.so.2"],
        "/bin/busybox": [],
    }


def test_ldd_missing_library_is_an_error():
    with pytest.raises(ImageError, match="libfoo"):
        parse_ldd("\tlibfoo.so.1 => not found\n", ["/x"])


def test_layer_has_parents_and_is_reproducible(tmp_path):
    src = tmp_path / "kube-proxy"
    src.write_bytes(b"\x7fELF fake")
    entries = [
        Entry("/usr/local/bin/kube-proxy", source=str(src)),
        Entry("/usr/sbin/iptables", link="xtables-nft-multi"),
        Entry("/etc/passwd", 0o644, data=b"root:x:0:0::/:/sbin/nologin\n"),
        Entry("/srv/drop", 0o1777),
        Entry("/etc/passwd", 0o600, data=b"ignored: the first entry for a path wins\n"),
    ]
    first, second = io.BytesIO(), io.BytesIO()
    write_layer(entries, first)
    write_layer(list(reversed(entries[:4])), second)
    assert first.getvalue() == second.getvalue()
    with tarfile.open(fileobj=io.BytesIO(first.getvalue())) as tar:
        members = {m.name: m for m in tar.getmembers()}
        names = [m.name for m in tar.getmembers()]
        assert names.index("usr") < names.index("usr/local") < names.index("usr/local/bin/kube-proxy")
        assert members["usr/sbin/iptables"].issym()
        assert members["usr/sbin/iptables"].linkname == "xtables-nft-multi"
        assert members["srv/drop"].isdir()
        assert members["srv/drop"].mode == 0o1777
        assert all(m.mtime == 0 and m.uid == 0 for m in members.values())
        assert tar.extractfile("etc/passwd").read().startswith(b"root:")
        assert tar.extractfile("usr/local/bin/kube-proxy").read() == b"\x7fELF fake"


def test_normalized_adds_each_parent_once():
    paths = [e.path for e in normalized([Entry("/a/b/c", data=b""), Entry("/a/d", data=b""), Entry("a/b")])]
    assert paths == ["/a", "/a/b", "/a/b/c", "/a/d"]


def test_docker_archive_layout(tmp_path):
    layer_bytes = io.BytesIO()
    write_layer([Entry("/pause", source=__file__)], layer_bytes)
    layer = tmp_path / "layer.tar"
    layer.write_bytes(layer_bytes.getvalue())
    diff_id = "sha256:" + hashlib.sha256(layer_bytes.getvalue()).hexdigest()
    image = Image("registry.k8s.io/pause:3.10.2", [], entrypoint=["/pause"], user="65535:65535")
    out = tmp_path / archive_name(image.ref)

    write_docker_archive(image.ref, image_config(image, diff_id, "amd64"), layer, out)

    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert len(manifest) == 1
        assert manifest[0]["RepoTags"] == ["registry.k8s.io/pause:3.10.2"]
        (layer_name,) = manifest[0]["Layers"]
        assert tar.extractfile(layer_name).read() == layer_bytes.getvalue()
        config_bytes = tar.extractfile(manifest[0]["Config"]).read()
        assert manifest[0]["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
        config = json.loads(config_bytes)
        assert json.load(tar.extractfile("repositories")) == {
            "registry.k8s.io/pause": {"3.10.2": diff_id.removeprefix("sha256:")}
        }
    assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    assert config["os"] == "linux"
    assert config["architecture"] == "amd64"
    assert config["config"]["Entrypoint"] == ["/pause"]
    assert config["config"]["User"] == "65535:65535"
    assert "Cmd" not in config["config"]
    assert any(env.startswith("PATH=") for env in config["config"]["Env"])
