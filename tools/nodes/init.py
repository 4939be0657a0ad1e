#!/usr/bin/python3
"""PID 1 of a kubeforge test-bed node: sets the node up inside its namespaces, then reaps.

tools/nodes.py starts it as `setsid unshare --net --mount --uts --pid --fork --propagation
private --kill-child /usr/bin/python3 tools/nodes/init.py …`, so it is PID 1 of the node's PID
namespace and killing it ends the whole node. It

  * joins the node's cgroups (kubeforge/<node>/system.slice in every hierarchy, made by nodes.py);
  * mounts an overlay over /etc, /opt, /usr, /root and /var (lower = the host's, upper + work in
    <repo>/.nodes/<node>/; /usr/local starts empty and /root holds only the distribution's dot files,
    as on a fresh install, so the host's tools and credentials stay out of the nodes), binds private
    per-node directories over /var/lib and /var/log (with an overlay of the host's dpkg database
    at /var/lib/dpkg, so package queries see what the host has installed), tmpfs on /run, /tmp and
    /dev/shm, a fresh /proc and /sys (the cgroup mounts are carried over), read-only images at
    /var/lib/kubeforge-images when given; checks every mount, then `mount --make-rshared /`;
  * sets the hostname, /etc/hostname, /etc/hosts, /etc/machine-id and /etc/resolv.conf, brings up
    lo and eth0 (moved in by nodes.py) with the node's address and a default route to an address
    nothing answers;
  * installs tools/nodes/systemctl.py as /usr/bin/systemctl and journalctl.py as /usr/bin/journalctl
    in the node's /usr overlay (and all three in /usr/lib/kubeforge-testbed) and creates
    /run/systemd/system, so Ansible sees systemd;
  * on first boot: forgets the units the host has enabled and the conffiles of packages the host
    removed, generates ssh host keys, enables ssh.service; on every boot writes sshd_config
    (root by key only, listening on the node address) and authorizes the test bed's key;
  * starts every enabled unit (ssh.service among them) in After= order, then, with images, imports
    every tar of /var/lib/kubeforge-images into the node's containerd once its socket answers and
    `ctr` is on PATH (once per containerd root: stamp /var/lib/containerd/.kubeforge-images.json;
    /run/kubeforge-images/done exists while everything is imported; log
    /var/log/kubeforge-images.log). The same import also runs as ExecStartPost= of containerd.service
    (runtime drop-in /run/systemd/system/containerd.service.d/50-kubeforge-images.conf), so the images
    are there when `systemctl start containerd` returns, as pulls would make them on a real host;
  * reaps every orphan; on SIGTERM stops the units (their keepers) and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import systemctl as shim  # noqa: E402

CGROUP_BASE = Path("/sys/fs/cgroup")
# Kubernetes and container programs that must not leak from the host into a "fresh" node.
HOST_PROGRAMS_HIDDEN = ("kubectl", "kubeadm", "kubelet", "containerd", "ctr", "runc", "crictl")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGES_MOUNT = Path("/var/lib/kubeforge-images")
# An air-gapped site's manifest mirror on the node (cni_manifest_mirror): the upstream manifests, read-only.
MIRROR_MOUNT = Path("/var/lib/kubeforge-mirror")
CONTAINERD_SOCK = "/run/containerd/containerd.sock"
IMAGES_STAMP = Path("/var/lib/containerd/.kubeforge-images.json")
IMAGES_DONE = Path("/run/kubeforge-images/done")
IMAGES_LOG = Path("/var/log/kubeforge-images.log")
FIRST_BOOT_MARK = Path("/etc/kubeforge-node")
OVERLAYS = ("etc", "opt", "usr", "root", "var")
HELPERS = ("systemctl.py", "journalctl.py", "init.py")
NODE_LIB = Path("/usr/lib/kubeforge-testbed")  # in the node's /usr overlay, never on the host
IMAGES_LOCK = Path("/run/kubeforge-images/lock")
SHUTDOWN_GRACE = 8.0


class Shutdown(Exception):
    """SIGTERM/SIGINT reached PID 1."""


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} init: {message}", flush=True)


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env={"PATH": DEFAULT_PATH})
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def mountinfo() -> list[tuple[str, str]]:
    """(mount point, fs type) of this mount namespace, in mount order."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        point = left.split()[4].replace("\\040", " ")
        mounts.append((point, right.split()[0]))
    return mounts


def mount(target: str, fstype: str | None, *options: str) -> None:
    """`mount OPTIONS… TARGET`, then check that TARGET is now a mount point of that type."""
    run("mount", *options, target)
    require_mount(target, fstype)


def require_mount(path: str, fstype: str | None) -> None:
    """The topmost mount at `path` must be of `fstype`: nothing is written before this holds."""
    found = [fs for point, fs in mountinfo() if point == path]
    if not found or (fstype is not None and found[-1] != fstype):
        raise RuntimeError(f"{path} is not mounted as {fstype} (found {found or 'nothing'}); refusing to write into it")


class Node:
    def __init__(self, args: argparse.Namespace):
        self.name: str = args.name
        self.address: str = args.address
        self.gateway: str = args.gateway
        self.state = Path(args.state_dir)
        self.hosts: list[str] = args.host or []
        self.pubkey = Path(args.pubkey).read_text().strip()
        self.images = Path(args.images) if args.images else None
        self.mirror = Path(args.mirror) if args.mirror else None
        self.boot_child = 0
        # Read now: once /root, /var/lib, /tmp… are mounted over, a checkout there is out of sight.
        self.helpers = {name: (HERE / name).read_bytes() for name in HELPERS}
        self.state_fd = os.open(self.state, os.O_RDONLY | os.O_DIRECTORY)

    # -- set-up -------------------------------------------------------------------------------
    def join_cgroups(self) -> None:
        for hierarchy in sorted(CGROUP_BASE.iterdir()):
            target = hierarchy / "kubeforge" / self.name / "system.slice" / "cgroup.procs"
            if target.exists():
                target.write_text(str(os.getpid()))

    def mount_all(self) -> None:
        """Every mount is checked in /proc/self/mountinfo before anything is written into it."""
        run("mount", "--make-rprivate", "/")
        for name in (*OVERLAYS, "dpkg"):
            (self.state / "upper" / name).mkdir(parents=True, exist_ok=True)
            (self.state / "work" / name).mkdir(parents=True, exist_ok=True)
        self.fresh_dirs()
        var_lib = self.state / "var-lib"
        var_log = self.state / "var-log"
        for path in (var_lib / "dpkg", var_log):
            path.mkdir(parents=True, exist_ok=True)
        var_fs = self.fs_type(var_lib)
        # Mounted at host-side paths inside the node's private /var/lib first, while the host's
        # /var/lib/dpkg and the images directory are in sight: the host's dpkg database
        # (copy-on-write) and the images (read-only) then come along with /var/lib.
        self.overlay("/var/lib/dpkg", var_lib / "dpkg", "dpkg")
        for source, target in ((self.images, IMAGES_MOUNT), (self.mirror, MIRROR_MOUNT)):
            if source:
                inside = var_lib / target.name
                inside.mkdir(exist_ok=True)
                mount(str(inside), None, "--bind", str(source))
                mount(str(inside), None, "-o", "remount,bind,ro")
        # /root last: the checkout and its .nodes/ may live under the host's /root.
        for name in (n for n in OVERLAYS if n != "root"):
            self.overlay(f"/{name}", Path(f"/{name}"), name)
        mount("/var/lib", var_fs, "--rbind", str(var_lib))
        mount("/var/log", var_fs, "--bind", str(var_log))
        self.overlay(str(self.state / "root-home"), Path("/root"), "root")
        if self.images:
            require_mount(str(IMAGES_MOUNT), None)
        mount("/proc", "proc", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc")
        self.fresh_run()
        mount("/tmp", "tmpfs", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs")  # noqa: S108 - the node's
        mount("/dev/shm", "tmpfs", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "shm")  # noqa: S108
        self.fresh_sys()
        run("mount", "--make-rshared", "/")

    @staticmethod
    def fs_type(path: Path) -> str:
        """The type of the file system holding `path` (in the host's view, before it is mounted over)."""
        best = ("", "")
        for point, fstype in mountinfo():
            if (str(path) + "/").startswith(point.rstrip("/") + "/") and len(point) >= len(best[0]):
                best = (point, fstype)
        return best[1]

    def overlay(self, lower: str, target: Path, name: str) -> None:
        upper, work = self.state / "upper" / name, self.state / "work" / name
        options = f"lowerdir={lower},upperdir={upper},workdir={work}"
        mount(str(target), "overlay", "-t", "overlay", "-o", options, "overlay")

    def fresh_dirs(self) -> None:
        """First boot: /usr/local and /root start as on a fresh install (opaque in the overlay)."""
        local = self.state / "upper" / "usr" / "local"
        if not local.exists():
            local.mkdir(parents=True)
            os.setxattr(local, "trusted.overlay.opaque", b"y")
            for sub in ("bin", "etc", "games", "include", "lib", "sbin", "share", "src"):
                (local / sub).mkdir()
            (local / "man").symlink_to("share/man")
        # Programs this machine may have from other packages (google-cloud-sdk's kubectl in /usr/bin, …):
        # a fresh host has none of them, so the node sees an overlay whiteout instead.
        for program in HOST_PROGRAMS_HIDDEN:
            for directory in ("bin", "sbin"):
                on_host = os.path.lexists(f"/usr/{directory}/{program}")
                whiteout = self.state / "upper" / "usr" / directory / program
                if on_host and not os.path.lexists(whiteout):
                    whiteout.parent.mkdir(parents=True, exist_ok=True)
                    os.mknod(whiteout, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
        # /root: opaque does not apply to an overlay's top directory, so its lower layer is a fresh
        # root home (the distribution's dot files) instead of the host's /root.
        home = self.state / "root-home"
        if not home.exists():
            home.mkdir(mode=0o700)
            for dot in (".bashrc", ".profile"):
                for source in (Path(f"/usr/share/base-files/dot{dot}"), Path(f"/etc/skel/{dot}")):
                    if source.is_file():
                        shutil.copyfile(source, home / dot)
                        break

    def fresh_run(self) -> None:
        # The host's /run/netns/* copies in this mount namespace would pin those netns: drop them.
        for point, _ in reversed(mountinfo()):
            if point.startswith("/run/netns/"):
                run("umount", "-l", point, check=False)
        mount("/run", "tmpfs", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs")
        for sub in ("lock", "systemd/system", "kubeforge-units", "kubeforge-images"):
            Path("/run", sub).mkdir(parents=True, exist_ok=True)
        Path("/run/lock").chmod(0o1777)

    def fresh_sys(self) -> None:
        """A sysfs of this network namespace (/sys/class/net lists the node's links), keeping the cgroups."""
        stash = Path("/run/.kubeforge-cgroup")
        stash.mkdir()
        mount(str(stash), "tmpfs", "--rbind", "/sys/fs/cgroup")
        mount("/sys", "sysfs", "-t", "sysfs", "-o", "nosuid,nodev,noexec", "sysfs")
        mount("/sys/fs/cgroup", "tmpfs", "--move", str(stash))
        stash.rmdir()

    def identity(self) -> None:
        socket.sethostname(self.name)
        Path("/etc/hostname").write_text(self.name + "\n")
        ip = self.address.split("/")[0]
        lines = ["127.0.0.1\tlocalhost", f"{ip}\t{self.name}"]
        lines += [f"{addr}\t{name}" for name, addr in (h.split("=", 1) for h in self.hosts) if name != self.name]
        lines += ["", "::1\tlocalhost ip6-localhost ip6-loopback", "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters"]
        Path("/etc/hosts").write_text("\n".join(lines) + "\n")
        # No DNS here: point at the test bed's bridge so lookups fail at once instead of timing out.
        Path("/etc/resolv.conf").unlink(missing_ok=True)
        Path("/etc/resolv.conf").write_text(f"# kubeforge test bed: no DNS\nnameserver {self.bridge_address}\n")

    @property
    def bridge_address(self) -> str:
        return self.address.split("/")[0].rsplit(".", 1)[0] + ".1"

    def network(self) -> None:
        deadline = time.monotonic() + 30
        while "eth0:" not in Path("/proc/net/dev").read_text():
            if time.monotonic() > deadline:
                raise RuntimeError("eth0 never arrived (tools/nodes.py moves it into the node)")
            time.sleep(0.05)
        run("ip", "link", "set", "lo", "up")
        run("ip", "addr", "add", self.address, "dev", "eth0")
        run("ip", "link", "set", "eth0", "up")
        run("ip", "route", "add", "default", "via", self.gateway)

    def install_helpers(self) -> None:
        """systemctl and journalctl stand-ins in /usr/bin; all three helpers in /usr/lib/kubeforge-testbed."""
        NODE_LIB.mkdir(parents=True, exist_ok=True)
        for name, data in self.helpers.items():
            targets = [NODE_LIB / name] + ([Path("/usr/bin") / Path(name).stem] if name != "init.py" else [])
            for target in targets:
                if target.is_symlink():
                    target.unlink()
                target.write_bytes(data)
                target.chmod(0o755)
        if self.images:
            dropin = Path("/run/systemd/system/containerd.service.d/50-kubeforge-images.conf")
            dropin.parent.mkdir(parents=True, exist_ok=True)
            dropin.write_text(IMAGES_DROPIN.format(init=NODE_LIB / "init.py"))

    def first_boot(self) -> None:
        if FIRST_BOOT_MARK.exists():
            return
        log("first boot: forgetting the host's enabled units and removed packages' conffiles")
        base = Path("/etc/systemd/system")
        for pattern in ("*.wants", "*.requires"):
            for directory in base.glob(pattern):
                for link in directory.iterdir():
                    link.unlink()
        for conffile in removed_conffiles(Path("/var/lib/dpkg/status")):
            path = Path(conffile)
            if path.is_file() or path.is_symlink():
                path.unlink()
                with contextlib.suppress(OSError):
                    path.parent.rmdir()
        Path("/etc/machine-id").write_text(uuid.uuid4().hex + "\n")
        for key in Path("/etc/ssh").glob("ssh_host_*"):
            key.unlink()
        for kind in ("ed25519", "ecdsa"):
            run(
                "ssh-keygen",
                "-q",
                "-t",
                kind,
                "-N",
                "",
                "-C",
                f"root@{self.name}",
                "-f",
                f"/etc/ssh/ssh_host_{kind}_key",
            )
        if shim.load_unit("ssh.service").load_state != "loaded":
            (base / "ssh.service").write_text(FALLBACK_SSH_UNIT)
        run(str(Path("/usr/bin/systemctl")), "enable", "ssh.service")
        FIRST_BOOT_MARK.write_text(self.name + "\n")

    def ssh(self) -> None:
        ip = self.address.split("/")[0]
        Path("/etc/ssh/sshd_config").write_text(SSHD_CONFIG.format(name=self.name, address=ip))
        Path("/etc/default/ssh").write_text('# sshd logs to stderr: journalctl -u ssh shows it\nSSHD_OPTS="-e"\n')
        ssh_dir = Path("/root/.ssh")
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(self.pubkey + "\n")
        (ssh_dir / "authorized_keys").chmod(0o600)

    def boot(self) -> None:
        os.chdir("/")
        self.join_cgroups()
        self.mount_all()
        with contextlib.suppress(OSError):
            Path("/proc/self/comm").write_text("init")
        self.identity()
        self.network()
        self.install_helpers()
        self.first_boot()
        self.ssh()
        log(f"{self.name} set up ({self.address}); starting the enabled units")

    # -- after set-up: a child starts units and imports images, PID 1 reaps ---------------------
    def start_children(self) -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                start_enabled_units()
                booted = os.open("booted", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=self.state_fd)
                os.write(booted, f"{time.time()}\n".encode())
                os.close(booted)
                if self.images:
                    import_images_forever()
            except Exception as exc:
                log(f"boot child failed: {exc!r}")
                code = 1
            os._exit(code)
        self.boot_child = pid

    def serve(self) -> None:
        def stop(signum, frame):
            raise Shutdown

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.start_children()
        try:
            while True:
                try:
                    os.waitpid(-1, 0)
                except ChildProcessError:
                    time.sleep(1)
        except Shutdown:
            self.shutdown()

    def shutdown(self) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log("shutting down: stopping the units")
        keepers = []
        for pid_file in Path("/run/kubeforge-units").glob("*/keeper.pid"):
            with contextlib.suppress(OSError, ValueError):
                keepers.append(int(pid_file.read_text().split()[0]))
        for pid in [*keepers, self.boot_child]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while time.monotonic() < deadline and any(shim._pid_alive(pid) for pid in keepers):
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            time.sleep(0.05)
        log("bye")


def removed_conffiles(status: Path) -> list[str]:
    """Conffiles that dpkg keeps for packages removed but not purged (status 'config-files')."""
    files: list[str] = []
    try:
        text = status.read_text(errors="replace")
    except OSError:
        return files
    for stanza in text.split("\n\n"):
        if "\nStatus: deinstall ok config-files" not in "\n" + stanza:
            continue
        in_conffiles = False
        for line in stanza.splitlines():
            if line.startswith("Conffiles:"):
                in_conffiles = True
            elif in_conffiles and line.startswith(" "):
                parts = line.split()
                if parts and parts[0].startswith("/etc/"):
                    files.append(parts[0])
            else:
                in_conffiles = False
    return files


def enabled_units() -> list[str]:
    """Every enabled service, ordered by After=/Before= among themselves."""
    names: set[str] = set()
    for base in (Path("/etc/systemd/system"), Path("/run/systemd/system")):
        for pattern in ("*.wants/*.service", "*.requires/*.service"):
            names |= {link.name for link in base.glob(pattern)}
    units = {name: shim.load_unit(name) for name in sorted(names)}
    after: dict[str, set[str]] = {name: set() for name in units}
    for name, unit in units.items():
        for other in unit.words("Unit", "After"):
            if other in units:
                after[name].add(other)
        for other in unit.words("Unit", "Before"):
            if other in units:
                after[other].add(name)
    ordered: list[str] = []
    while after:
        ready = sorted(n for n, deps in after.items() if not deps - set(ordered))
        if not ready:  # an ordering cycle: start the rest alphabetically, as systemd breaks cycles
            ready = sorted(after)
        for name in ready:
            ordered.append(name)
            del after[name]
    return ordered


def start_enabled_units() -> None:
    for name in enabled_units():
        proc = subprocess.run(
            ["/usr/bin/systemctl", "start", name],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": DEFAULT_PATH},
            timeout=300,
        )
        log(f"start {name}: " + ("ok" if proc.returncode == 0 else f"failed: {proc.stderr.strip()}"))


def _containerd_answers() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(CONTAINERD_SOCK)
        except OSError:
            return False
    return True


def import_images_forever() -> None:
    """Preload every image tar into the node's containerd: what pulls would do, without a registry."""
    retry_after: dict[str, float] = {}
    with open(IMAGES_LOG, "a", buffering=1) as out:
        out.write(f"{time.strftime('%F %T')} waiting for {CONTAINERD_SOCK} and ctr to import {IMAGES_MOUNT}/*.tar\n")
        while True:
            ctr = shutil.which("ctr", path=DEFAULT_PATH)
            if ctr and _containerd_answers():
                import_pending(ctr, out, retry_after)
            else:
                IMAGES_DONE.unlink(missing_ok=True)
            time.sleep(2)


def import_pending(ctr: str, out, retry_after: dict[str, float]) -> bool:
    """Import the tars not yet in this containerd root; True when every tar is in."""
    IMAGES_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(IMAGES_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the boot-time poller and containerd's ExecStartPost
        return _import_pending(ctr, out, retry_after)


def _import_pending(ctr: str, out, retry_after: dict[str, float]) -> bool:
    tars = sorted(IMAGES_MOUNT.glob("*.tar"))
    try:
        done = json.loads(IMAGES_STAMP.read_text())
    except (OSError, ValueError):
        done = {}
    pending = []
    for tar in tars:
        info = tar.stat()
        key = f"{info.st_size}:{int(info.st_mtime)}"
        if done.get(tar.name) != key:
            pending.append((tar, key))
    IMAGES_DONE.parent.mkdir(parents=True, exist_ok=True)
    if pending:
        IMAGES_DONE.unlink(missing_ok=True)
    for tar, key in pending:
        if retry_after.get(tar.name, 0) > time.monotonic():
            continue
        began = time.monotonic()
        proc = subprocess.run(
            [ctr, "-a", CONTAINERD_SOCK, "-n", "k8s.io", "images", "import", str(tar)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        took = time.monotonic() - began
        stamp = time.strftime("%F %T")
        if proc.returncode == 0:
            done[tar.name] = key
            IMAGES_STAMP.parent.mkdir(parents=True, exist_ok=True)
            IMAGES_STAMP.write_text(json.dumps(done, indent=1))
            out.write(f"{stamp} imported {tar.name} in {took:.1f}s: {proc.stdout.strip()}\n")
        else:
            retry_after[tar.name] = time.monotonic() + 30
            out.write(f"{stamp} import of {tar.name} failed ({proc.returncode}): {proc.stderr.strip()}\n")
    complete = all(done.get(tar.name) == key for tar, key in pending)
    if complete and not IMAGES_DONE.exists():
        IMAGES_DONE.write_text(f"{len(tars)}\n")
    return complete


def import_images_now(timeout: float = 60) -> int:
    """containerd's ExecStartPost= (the drop-in init.py writes): import before `systemctl start` returns."""
    deadline = time.monotonic() + timeout
    with open(IMAGES_LOG, "a", buffering=1) as out:
        while True:
            ctr = shutil.which("ctr", path=DEFAULT_PATH)
            if ctr and _containerd_answers():
                complete = import_pending(ctr, out, {})
                print(
                    f"kubeforge test bed: images of {IMAGES_MOUNT} " + ("imported" if complete else "NOT all imported")
                )
                return 0 if complete else 1
            if time.monotonic() > deadline:
                out.write(f"{time.strftime('%F %T')} containerd's socket or ctr missing after {timeout:.0f}s\n")
                return 1
            time.sleep(0.2)


IMAGES_DROPIN = """\
# kubeforge test bed (tools/nodes/init.py): there is no registry, so the images the test bed was
# given are imported into this containerd before `systemctl start containerd` returns (once per
# containerd root). A real host pulls them instead.
[Service]
ExecStartPost=-/usr/bin/python3 {init} --import-images
TimeoutStartSec=600
"""


SSHD_CONFIG = """\
# kubeforge test-bed node {name}: written by tools/nodes/init.py at every boot
ListenAddress {address}:22
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: pam_loginuid/pam_systemd need what a test-bed node does not have.
UsePAM no
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
MaxStartups 100:30:200
MaxSessions 64
Subsystem sftp /usr/lib/openssh/sftp-server
"""

FALLBACK_SSH_UNIT = """\
[Unit]
Description=OpenBSD Secure Shell server (kubeforge test bed)

[Service]
EnvironmentFile=-/etc/default/ssh
ExecStartPre=/usr/sbin/sshd -t
ExecStart=/usr/sbin/sshd -D $SSHD_OPTS
KillMode=process
Restart=on-failure
RuntimeDirectory=sshd
RuntimeDirectoryMode=0755

[Install]
WantedBy=multi-user.target
"""


def main() -> int:
    if sys.argv[1:] == ["--import-images"]:
        return import_images_now()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--address", required=True, help="CIDR on eth0, e.g. 198.18.0.11/24")
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--pubkey", required=True)
    parser.add_argument("--host", action="append", help="NAME=ADDRESS for /etc/hosts (repeatable)")
    parser.add_argument("--images")
    parser.add_argument("--mirror")
    args = parser.parse_args()
    if os.getpid() != 1:
        print("init.py must run as PID 1 of a new PID namespace (tools/nodes.py starts it)", file=sys.stderr)
        return 2
    node = Node(args)
    try:
        node.boot()
    except Exception as exc:
        log(f"boot failed: {exc}")
        return 1
    node.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
