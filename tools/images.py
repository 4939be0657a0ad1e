#!/usr/bin/env python3
"""Container images for real nodes, built without Docker or a registry: one docker-archive tar each.

    images.py --bin BIN_DIR --out OUT_DIR [--upstream DIR]

BIN_DIR is what `tools/build.sh --nodes` prints. Which images exist and what they are called is never
written here: the control-plane, kube-proxy, etcd, pause and CoreDNS names come from
`BIN_DIR/kubeadm config images list` for the version of BIN_DIR/kubeadm and of BIN_DIR/$K8S_OLD_VERSION/kubeadm (the
Kubernetes the real-node upgrade test starts from; its control plane and kube-proxy run the binaries beside that
kubeadm, its etcd, pause and CoreDNS tags the ones of BIN_DIR), the flannel ones from the
`image:` lines of UPSTREAM/flannel/$FLANNEL_VERSION/kube-flannel.yml and of the older version the real-node
upgrade test starts from, UPSTREAM/flannel/$FLANNEL_OLD_VERSION/kube-flannel.yml. Each tar holds manifest.json
(with RepoTags), a config JSON and one layer, which `ctr -n k8s.io images import` loads under that exact name.

What goes into each image is what its container runs (kubeadm's static pods and DaemonSets, the flannel
manifest): Go binaries from BIN_DIR, and from the host iptables (xtables-nft-multi, its links, libraries,
loader and extensions), nft, conntrack and busybox-static (Debian packages iptables, nftables, conntrack,
busybox-static).

OUT_DIR gets one tar per image (and nothing else ending in .tar) and images.json ({"name:tag": "file.tar"},
file names relative to OUT_DIR, which tools/nodes.py bind-mounts into the nodes); OUT_DIR is printed.
OUT_DIR/.stamp records a hash of each image's inputs (this script, every file's content, the config):
a second call with the same inputs writes nothing. A program whose version differs from its image's tag
(x.y.z) gets a warning on stderr: the tag is what kubeadm or the manifest asks for, whatever was built.
Only the standard library is used.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EPOCH = "1970-01-01T00:00:00Z"
# What distroless and alpine (the bases of the real images) set.
DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

USERS = (  # the images' /etc/passwd
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"


class ImageError(Exception):
    """A missing input or a host tool that does not behave as expected; the message says which."""


@dataclass(frozen=True)
class Entry:
    """One path in a layer: a directory, a symlink, inline data or a copy of a host file."""

    path: str
    mode: int = 0o755
    source: str | None = None
    data: bytes | None = None
    link: str | None = None

    @property
    def kind(self) -> str:
        if self.link is not None:
            return "symlink"
        if self.source is not None or self.data is not None:
            return "file"
        return "dir"


@dataclass
class Image:
    ref: str
    entries: list[Entry]
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=lambda: list(DEFAULT_ENV))
    user: str = ""
    # A command printing the version of the image's program, to compare with the tag.
    version_probe: list[str] = field(default_factory=list)


# ---- pure parts: names, ldd output, archive layout -------------------------------------------------


def parse_kubeadm_images(text: str) -> list[str]:
    """The references `kubeadm config images list` prints, one a line."""
    refs = [line.strip() for line in text.splitlines() if line.strip()]
    for ref in refs:
        if not re.fullmatch(r"[a-z0-9][a-z0-9./_-]*:[\w][\w.-]*", ref):
            raise ImageError(f"kubeadm printed an unexpected line: {ref!r}")
    return refs


def parse_manifest_images(text: str) -> list[str]:
    """Every distinct `image:` of a manifest, in order of appearance."""
    refs: list[str] = []
    for match in re.finditer(r"^\s*(?:-\s+)?image:\s*[\"']?([^\"'\s#]+)", text, re.MULTILINE):
        if match.group(1) not in refs:
            refs.append(match.group(1))
    return refs


def split_ref(ref: str) -> tuple[str, str]:
    """registry/path/name:tag -> (registry/path/name, tag)."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag or not name:
        raise ImageError(f"{ref!r} has no tag")
    return name, tag


def short_name(ref: str) -> str:
    """The last component of the repository: what decides an image's contents."""
    return split_ref(ref)[0].rsplit("/", 1)[-1]


def archive_name(ref: str) -> str:
    return re.sub(r"[/:@]", "_", ref) + ".tar"


def version_mismatch(ref: str, probe_output: str) -> str | None:
    """Why the tag of REF and the program's version (x.y.z, from PROBE_OUTPUT) differ, if they do."""
    tag = split_ref(ref)[1]
    wanted, found = re.search(r"\d+\.\d+\.\d+", tag), re.search(r"\d+\.\d+\.\d+", probe_output)
    if wanted is None:
        return None
    if found is None:
        return f"{ref}: cannot tell the version of its program from {probe_output.strip()[:80]!r}"
    if wanted.group() != found.group():
        return f"{ref} holds version {found.group()} of its program (the name asks for {wanted.group()})"
    return None


def parse_ldd(text: str, files: list[str]) -> dict[str, list[str]]:
    """ldd's output for FILES -> the libraries (and the loader) each needs; [] for a static file."""
    deps: dict[str, list[str]] = {}
    current = files[0] if len(files) == 1 else None
    for raw in text.splitlines():
        line = raw.strip()
        if not raw.startswith(("\t", " ")) and line.endswith(":") and line[:-1] in files:
            current = line[:-1]
            deps[current] = []
            continue
        if current is None or not line:
            continue
        deps.setdefault(current, [])
        if "not a dynamic executable" in line or "statically linked" in line:
            continue
        if "not found" in line:
            raise ImageError(f"ldd {current}: {line}")
        if "=>" in line:
            target = line.split("=>", 1)[1].split("(")[0].strip()
            if target:  # linux-vdso has none
                deps[current].append(target)
        elif line.startswith("/"):
            deps[current].append(line.split("(")[0].strip())
    missing = [f for f in files if f not in deps]
    if missing:
        raise ImageError(f"ldd said nothing about {', '.join(missing)}")
    return deps


def base_entries() -> list[Entry]:
    """What every image gets: users and groups, nsswitch.conf (Go's resolver reads it), /tmp."""
    return [
        Entry("/etc/passwd", 0o644, data=USERS.encode()),
        Entry("/etc/group", 0o644, data=GROUP.encode()),
        Entry("/etc/nsswitch.conf", 0o644, data=NSSWITCH.encode()),
        Entry("/tmp", 0o1777),  # noqa: S108 (the image's /tmp, sticky and world-writable as usual)
    ]


def normalized(entries: list[Entry]) -> list[Entry]:
    """Entries with every parent directory, one per path (the first wins), parents before children."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        path = "/" + entry.path.strip("/")
        by_path.setdefault(path, Entry(path, entry.mode, entry.source, entry.data, entry.link))
    for path in list(by_path):
        parent = os.path.dirname(path)
        while parent != "/":
            by_path.setdefault(parent, Entry(parent))
            parent = os.path.dirname(parent)
    return [by_path[p] for p in sorted(by_path, key=lambda p: p.split("/"))]


def _tarinfo(entry: Entry, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.path.lstrip("/"))
    info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = entry.mode, 0, 0, 0, "root", "root"
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif entry.kind == "symlink":
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.link or "", 0o777
    else:
        info.size = size
    return info


def write_layer(entries: list[Entry], fileobj) -> None:
    """A reproducible layer tar (root-owned, mtime 0, sorted) of ENTRIES."""
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in normalized(entries):
            if entry.data is not None:
                tar.addfile(_tarinfo(entry, len(entry.data)), io.BytesIO(entry.data))
            elif entry.source is not None:
                with open(entry.source, "rb") as src:
                    tar.addfile(_tarinfo(entry, os.fstat(src.fileno()).st_size), src)
            else:
                tar.addfile(_tarinfo(entry))


def image_config(image: Image, diff_id: str, arch: str) -> dict:
    config: dict = {"Env": list(image.env)}
    if image.entrypoint is not None:
        config["Entrypoint"] = image.entrypoint
    if image.cmd is not None:
        config["Cmd"] = image.cmd
    if image.user:
        config["User"] = image.user
    return {
        "architecture": arch,
        "os": "linux",
        "created": EPOCH,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": EPOCH, "created_by": "kubeforge tools/images.py"}],
    }


def write_docker_archive(ref: str, config: dict, layer: Path, out: Path) -> None:
    """OUT = a docker-archive (what `docker save` writes) of one image with one uncompressed layer."""
    layer_hex = config["rootfs"]["diff_ids"][0].removeprefix("sha256:")
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    repository, tag = split_ref(ref)
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [f"{layer_hex}/layer.tar"]}]
    members = [
        (config_name, config_bytes),
        ("manifest.json", json.dumps(manifest, separators=(",", ":")).encode()),
        ("repositories", json.dumps({repository: {tag: layer_hex}}, separators=(",", ":")).encode()),
    ]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(layer_hex)
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        info = tarfile.TarInfo(f"{layer_hex}/layer.tar")
        info.size, info.mode = layer.stat().st_size, 0o644
        with layer.open("rb") as src:
            tar.addfile(info, src)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


# ---- the host: binaries, their libraries -------------------------------------------------------------


def host_tool(name: str) -> str:
    found = shutil.which(name, path=HOST_PATH)
    if not found:
        raise ImageError(f"{name} is not installed on this host (see the docstring of tools/images.py)")
    return found


def ldd(files: list[str]) -> dict[str, list[str]]:
    result = subprocess.run(["ldd", *files], capture_output=True, text=True, check=False)
    return parse_ldd(result.stdout + "\n" + result.stderr, files)


def host_file(path: str, dest: str | None = None) -> Entry:
    """A copy of host file PATH (symlinks followed) at DEST (default: the same path)."""
    real = os.path.realpath(path)
    return Entry(dest or path, os.stat(real).st_mode & 0o7777, source=real)


def with_libraries(binaries: list[str]) -> list[Entry]:
    """Copies of BINARIES and of every library and loader ldd lists for them, at the paths ldd gives."""
    entries = [host_file(b) for b in binaries]
    for libs in ldd(binaries).values():
        entries += [host_file(lib) for lib in libs]
    return entries


def iptables_entries() -> list[Entry]:
    """xtables-nft-multi (nft backend, like the host's default), its links, extensions and libraries; nft."""
    multi, nft = host_tool("xtables-nft-multi"), host_tool("nft")
    libs = ldd([multi])[multi]
    libxtables = next((lib for lib in libs if os.path.basename(lib).startswith("libxtables.so")), None)
    if libxtables is None:
        raise ImageError(f"{multi} does not link libxtables: cannot find the xtables extension directory")
    # The extension directory is compiled into libxtables as <its real libdir>/xtables.
    ext_dir = os.path.join(os.path.dirname(os.path.realpath(libxtables)), "xtables")
    extensions = sorted(str(p) for p in Path(ext_dir).glob("*.so"))
    if not extensions:
        raise ImageError(f"no iptables extensions in {ext_dir}")
    entries = with_libraries([multi, nft])
    for ext in extensions:
        if os.path.islink(ext):
            entries.append(Entry(ext, link=os.readlink(ext)))
        else:
            entries.append(host_file(ext))
    for libs in ldd([e for e in extensions if not os.path.islink(e)]).values():
        entries += [host_file(lib) for lib in libs]
    sbin = os.path.dirname(multi)
    for family in ("iptables", "ip6tables"):
        for variant in ("", "-nft"):
            for suffix in ("", "-save", "-restore"):
                entries.append(Entry(f"{sbin}/{family}{variant}{suffix}", link=os.path.basename(multi)))
    # iptables resolves protocol names through /etc/protocols (netbase).
    if os.path.exists("/etc/protocols"):
        entries.append(host_file("/etc/protocols"))
    return entries


def busybox_entries() -> list[Entry]:
    """busybox-static as /bin/busybox and a /bin link per applet (sh, cp, mkdir, …)."""
    busybox = host_tool("busybox")
    if ldd([busybox])[busybox]:
        raise ImageError(f"{busybox} is not static: install busybox-static")
    listing = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    return [host_file(busybox, "/bin/busybox")] + [
        Entry(f"/bin/{applet}", link="busybox") for applet in listing if applet != "busybox"
    ]


def conntrack_entries() -> list[Entry]:
    return with_libraries([host_tool("conntrack")])


def ca_certificates() -> list[Entry]:
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    return [host_file(bundle)] if os.path.exists(bundle) else []


# ---- what each image holds ---------------------------------------------------------------------------


def read_versions(path: Path) -> dict[str, str]:
    versions = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Z0-9_]+)=(\S*)", line.strip())
        if match:
            versions[match.group(1)] = match.group(2)
    return versions


def binary(bin_dir: Path, name: str) -> str:
    path = bin_dir / name
    if not path.is_file():
        raise ImageError(f"{path} is missing: is {bin_dir} the output of `tools/build.sh --nodes`?")
    return str(path)


# The data-plane tests' own image (tests/nodes/probes.py); a name no registry serves.
PROBE_IMAGE = "kubeforge.test/probe:v1"
# What cni_verify runs of the upstream agnhost image, on busybox: `netexec --http-port=N` is an HTTP server
# answering GET / with 200 (busybox httpd serving one index file). Anything else is refused, loudly.
AGNHOST_STANDIN = """#!/bin/sh
# kubeforge test bed: a stand-in for agnhost (registry.k8s.io/e2e-test-images/agnhost), netexec only.
[ "$1" = netexec ] || { echo "agnhost stand-in: only netexec is supported, not: $*" >&2; exit 2; }
shift
port=8080
for arg in "$@"; do
  case "$arg" in
    --http-port=*) port="${arg#--http-port=}" ;;
    *) echo "agnhost stand-in: unsupported netexec argument: $arg" >&2; exit 2 ;;
  esac
done
exec httpd -f -p "$port" -h /srv/agnhost
"""


def image_for(ref: str, bin_dir: Path, cache: dict[str, list[Entry]], versions: dict[str, str]) -> Image:
    """The image REF names: its files, entrypoint and environment, from what its pods run. FLANNEL_VERSION is
    the tag whose flanneld is BIN_DIR/flanneld; another flannel tag's is BIN_DIR/flanneld-TAG. A Kubernetes
    component tagged K8S_OLD_VERSION is BIN_DIR/K8S_OLD_VERSION/NAME."""
    flannel_version = versions["FLANNEL_VERSION"]

    def once(key: str, build) -> list[Entry]:
        if key not in cache:
            cache[key] = build()
        return cache[key]

    name = short_name(ref)
    base = base_entries()
    if name.startswith("kube-") and split_ref(ref)[1] == versions.get("K8S_OLD_VERSION"):
        bin_dir = bin_dir / versions["K8S_OLD_VERSION"]
    if name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        # kubeadm's static pods run the binary by name (command: kube-apiserver …, etcd …). The real
        # images' entrypoint is /go-runner, which is not built here: the binary itself is.
        path, program = f"/usr/local/bin/{name}", binary(bin_dir, name)
        return Image(ref, [*base, host_file(program, path)], entrypoint=[path], version_probe=[program, "--version"])
    if name == "kube-proxy":
        # kubeadm's DaemonSet runs /usr/local/bin/kube-proxy; it execs iptables(-save/-restore), ip6tables,
        # conntrack (and nft in nftables mode).
        path, program = "/usr/local/bin/kube-proxy", binary(bin_dir, name)
        entries = [*base, host_file(program, path)]
        entries += once("iptables", iptables_entries) + once("conntrack", conntrack_entries)
        return Image(ref, entries, entrypoint=[path], version_probe=[program, "--version"])
    if name == "pause":
        # Like registry.k8s.io/pause: FROM scratch, USER 65535:65535, ENTRYPOINT ["/pause"].
        entries = [*base, host_file(binary(bin_dir, "pause"), "/pause")]
        return Image(ref, entries, entrypoint=["/pause"], user="65535:65535")
    if name == "coredns":
        # ENTRYPOINT ["/coredns"] as upstream; runs as root here (upstream's nonroot user relies on a file
        # capability for port 53); kubeadm's Deployment adds NET_BIND_SERVICE and drops the rest.
        program = binary(bin_dir, "coredns")
        entries = [*base, host_file(program, "/coredns"), *ca_certificates()]
        return Image(ref, entries, entrypoint=["/coredns"], version_probe=[program, "-version"])
    if name == "flannel":
        # kube-flannel.yml: the install-cni init container runs /opt/bin/install-conf SRC DEST (before v0.27:
        # `cp -f SRC DEST`, busybox's here), kube-flannel runs /opt/bin/flanneld, which execs
        # iptables(-save/-restore) (nft with EnableNFTables).
        current = split_ref(ref)[1] == flannel_version
        program = binary(bin_dir, "flanneld" if current else f"flanneld-{split_ref(ref)[1]}")
        entries = [*base, host_file(program, "/opt/bin/flanneld"), *ca_certificates()]
        if current:
            entries.append(host_file(binary(bin_dir, "install-conf"), "/opt/bin/install-conf"))
        entries += once("iptables", iptables_entries) + once("busybox", busybox_entries)
        return Image(ref, entries, entrypoint=["/opt/bin/flanneld"], version_probe=[program, "--version"])
    if name == "flannel-cni-plugin":
        # The install-cni-plugin init container runs `cp -f /flannel /opt/cni/bin/flannel`; alpine's CMD. Every tag
        # holds the one plugin built here (FLANNEL_CNI_PLUGIN_SOURCE): the older manifest's tag warns of it.
        program = binary(bin_dir, "flannel")
        entries = [*base, host_file(program, "/flannel"), *once("busybox", busybox_entries)]
        return Image(ref, entries, cmd=["/bin/sh"], version_probe=[program, "--version"])
    if ref == PROBE_IMAGE:
        # The tests' probe pods: busybox's sh, ping, nc, wget and sleep; and an /agnhost stand-in, so that
        # cni_verify's target pods (`/agnhost netexec --http-port=8080`, the upstream agnhost image) run here.
        entries = [
            *base,
            *once("busybox", busybox_entries),
            Entry("/agnhost", 0o755, data=AGNHOST_STANDIN.encode()),
            Entry("/srv/agnhost/index.html", 0o644, data=b"NOW: kubeforge probe\n"),
        ]
        return Image(ref, entries, cmd=["/bin/sh"])
    raise ImageError(f"no recipe for image {ref}: add one to tools/images.py")


def kubeadm_images(kubeadm: str) -> list[str]:
    """What this kubeadm pulls for its own version."""
    version = subprocess.run([kubeadm, "version", "-o", "short"], capture_output=True, text=True, check=True)
    listed = subprocess.run(
        [kubeadm, "config", "images", "list", "--kubernetes-version", version.stdout.strip()],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_kubeadm_images(listed.stdout)


def image_refs(bin_dir: Path, upstream: Path, versions: dict[str, str]) -> list[str]:
    refs = kubeadm_images(binary(bin_dir, "kubeadm"))
    if versions.get("K8S_OLD_VERSION"):
        refs += [
            ref for ref in kubeadm_images(binary(bin_dir / versions["K8S_OLD_VERSION"], "kubeadm")) if ref not in refs
        ]
    for version in (versions["FLANNEL_VERSION"], versions["FLANNEL_OLD_VERSION"]):
        manifest = upstream / "flannel" / version / "kube-flannel.yml"
        if not manifest.is_file():
            raise ImageError(f"{manifest} is missing (--upstream)")
        refs += parse_manifest_images(manifest.read_text())
    return [*refs, PROBE_IMAGE]


def input_hash(image: Image, arch: str, file_hashes: dict[str, str]) -> str:
    """A hash of everything an image's tar depends on."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(json.dumps([image.ref, image.entrypoint, image.cmd, image.env, image.user, arch]).encode())
    for entry in normalized(image.entries):
        content = ""
        if entry.source is not None:
            if entry.source not in file_hashes:
                with open(entry.source, "rb") as src:
                    file_hashes[entry.source] = hashlib.file_digest(src, "sha256").hexdigest()
            content = file_hashes[entry.source]
        elif entry.data is not None:
            content = hashlib.sha256(entry.data).hexdigest()
        digest.update(json.dumps([entry.path, entry.mode, entry.kind, entry.link, content]).encode())
    return digest.hexdigest()


def build_image(image: Image, arch: str, out: Path) -> None:
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".layer.", delete=False) as layer:
        layer_path = Path(layer.name)
    try:
        with layer_path.open("wb") as f:
            write_layer(image.entries, f)
        with layer_path.open("rb") as f:
            diff_id = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
        partial = out.with_name(out.name + ".partial")
        write_docker_archive(image.ref, image_config(image, diff_id, arch), layer_path, partial)
        partial.replace(out)
    finally:
        layer_path.unlink(missing_ok=True)


def go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}.get(machine, machine)


def build_all(bin_dir: Path, out_dir: Path, upstream: Path) -> None:
    versions = read_versions(REPO / "tools" / "versions.env")
    refs = image_refs(bin_dir, upstream, versions)
    cache: dict[str, list[Entry]] = {}
    images = [image_for(ref, bin_dir, cache, versions) for ref in refs]
    arch, file_hashes = go_arch(), {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for leftover in [*out_dir.glob(".layer.*"), *out_dir.glob("*.tar.partial")]:  # from an interrupted run
        leftover.unlink()
    stamp_path = out_dir / ".stamp"
    try:
        stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamp = {}
    listing, new_stamp = {}, {}
    for image in images:
        if image.version_probe:
            probe = subprocess.run(image.version_probe, capture_output=True, text=True, check=False)
            mismatch = version_mismatch(image.ref, probe.stdout + probe.stderr)
            if mismatch:
                print(f"images.py: warning: {mismatch}", file=sys.stderr)
        out = out_dir / archive_name(image.ref)
        key = input_hash(image, arch, file_hashes)
        if stamp.get(image.ref) != key or not out.is_file():
            print(f"images.py: building {image.ref}", file=sys.stderr)
            build_image(image, arch, out)
        listing[image.ref], new_stamp[image.ref] = out.name, key
    for stale in set(out_dir.glob("*.tar")) - {out_dir / name for name in listing.values()}:
        stale.unlink()
    listing_path = out_dir / "images.json"
    text = json.dumps(listing, indent=2, sort_keys=True) + "\n"
    if not listing_path.is_file() or listing_path.read_text() != text:
        listing_path.write_text(text)
    if stamp != new_stamp:
        stamp_path.write_text(json.dumps(new_stamp, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, type=Path, help="the directory `tools/build.sh --nodes` prints")
    parser.add_argument("--out", required=True, type=Path, help="where the tars and images.json go (a cache)")
    parser.add_argument(
        "--upstream",
        type=Path,
        default=Path(os.environ.get("KUBEFORGE_UPSTREAM", REPO.parent / "shared" / "upstream")),
        help="the upstream manifests (default: $KUBEFORGE_UPSTREAM or ../shared/upstream)",
    )
    args = parser.parse_args(argv)
    try:
        build_all(args.bin.resolve(), args.out.resolve(), args.upstream.resolve())
        print(args.out.resolve())
    except (ImageError, subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", None) or ""
        print(f"images.py: {exc} {detail}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
