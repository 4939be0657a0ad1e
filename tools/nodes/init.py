#!/usr/bin/python3
"""The first process of a kubeforge test-bed node: sets the node up inside its namespaces, then
execs the distribution's systemd as the node's PID 1.

tools/nodes.py starts it as `setsid unshare --net --mount --uts --pid --fork --propagation
private --kill-child /usr/bin/python3 tools/nodes/init.py …`, so it is PID 1 of the node's PID
namespace and `exec` hands that PID to systemd. Before it does, it

  * enters a new cgroup namespace rooted at the node's cgroup, which nodes.py started it in
    (kubeforge/<node> of every hierarchy, and of the v1 controllers the host leaves unmounted, which
    nodes.py mounts for a moment: else systemd would mount those at their kernel-wide root), so that
    systemd, the kubelet (cgroupDriver systemd) and runc see that subtree as the whole hierarchy;
  * mounts an overlay over /etc, /opt, /usr, /root and /var (lower = the host's, upper + work in
    <repo>/.nodes/<node>/; /usr/local starts empty and /root holds only the distribution's dot files,
    as on a fresh install, so the host's tools and credentials stay out of the nodes), binds private
    per-node directories over /var/lib and /var/log (with an overlay of the host's dpkg database
    at /var/lib/dpkg, so package queries see what the host has installed, and the empty directories the host's
    packages own there), tmpfs on /run and /tmp,
    a minimal /dev (a pty as /dev/console, read into init.log), a fresh /proc, a read-only sysfs of
    the node's network namespace with the cgroup hierarchies mounted afresh under /sys/fs/cgroup,
    read-only images at /var/lib/kubeforge-images when given; checks every mount, then `mount
    --make-rshared /`;
  * sets the hostname, /etc/hostname, /etc/hosts, /etc/machine-id and /etc/resolv.conf, brings up
    lo and eth0 (moved in by nodes.py) with the node's address and a default route to an address
    nothing answers;
  * on first boot: forgets the units the host has enabled, the host's /etc/fstab and the conffiles of
    packages the host removed, masks the units that would change the shared kernel (sysctl files,
    module loading, binfmt, udev), generates ssh host keys, enables ssh.service; on every boot
    writes sshd_config (root by key only, listening on the node address) and authorizes the test
    bed's key;
  * with images, writes a containerd.service drop-in whose ExecStartPost= imports every tar of
    /var/lib/kubeforge-images into the node's containerd (import_images.py), as pulls would make
    them present on a real host.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import pty
import shutil
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
CGROUP_BASE = Path("/sys/fs/cgroup")
CGROUP_PARENT = "kubeforge"
CLONE_NEWCGROUP = 0x02000000
SYSTEMD = "/lib/systemd/systemd"
# Kubernetes and container programs that must not leak from the host into a "fresh" node.
HOST_PROGRAMS_HIDDEN = ("kubectl", "kubeadm", "kubelet", "containerd", "ctr", "runc", "crictl")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGES_MOUNT = Path("/var/lib/kubeforge-images")
# An air-gapped site's manifest mirror on the node (cni_manifest_mirror): the upstream manifests, read-only.
MIRROR_MOUNT = Path("/var/lib/kubeforge-mirror")
FIRST_BOOT_MARK = Path("/etc/kubeforge-node")
OVERLAYS = ("etc", "opt", "usr", "root", "var")
NODE_LIB = Path("/usr/lib/kubeforge-testbed")  # in the node's /usr overlay, never on the host
IMPORTER = "import_images.py"
# Units that would change what every node shares with the host: the kernel's sysctls and modules,
# binfmt handlers, the devices (udev), the host's file systems and consoles.
MASKED_UNITS = (
    "systemd-sysctl.service",
    "systemd-modules-load.service",
    "modprobe@.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "proc-sys-fs-binfmt_misc.mount",
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-remount-fs.service",
    "systemd-pstore.service",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-fs-fuse-connections.mount",
    "console-getty.service",
    "getty@.service",
)
# Device nodes of a minimal /dev: name -> (major, minor).
DEVICES = {
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
    "kmsg": (1, 11),  # the kubelet's OOM watcher reads it
    "net/tun": (10, 200),  # flannel's udp backend
}


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} init: {message}", flush=True)


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env={"PATH": DEFAULT_PATH})
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def mountinfo() -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) of this mount namespace, in mount order."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        point = left.split()[4].replace("\\040", " ")
        fstype, _source, options = right.split()[:3]
        mounts.append((point, fstype, options))
    return mounts


def mount(target: str, fstype: str | None, *options: str) -> None:
    """`mount OPTIONS… TARGET`, then check that TARGET is now a mount point of that type."""
    run("mount", *options, target)
    require_mount(target, fstype)


def require_mount(path: str, fstype: str | None) -> None:
    """The topmost mount at `path` must be of `fstype`: nothing is written before this holds."""
    found = [fs for point, fs, _ in mountinfo() if point == path]
    if not found or (fstype is not None and found[-1] != fstype):
        raise RuntimeError(f"{path} is not mounted as {fstype} (found {found or 'nothing'}); refusing to write into it")


def cgroup_mounts() -> dict[str, str]:
    """The host's cgroup hierarchies under /sys/fs/cgroup: directory name -> mount options."""
    found = {}
    for point, fstype, options in mountinfo():
        path = Path(point)
        if fstype in {"cgroup", "cgroup2"} and path.parent == CGROUP_BASE:
            found[path.name] = "cgroup2" if fstype == "cgroup2" else options
    return found


def unshare_cgroup_namespace() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWCGROUP) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWCGROUP): {os.strerror(errno)}")


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
        # Read now: once /root, /var/lib, /tmp… are mounted over, a checkout there is out of sight.
        self.importer = (HERE / IMPORTER).read_bytes()
        self.hierarchies = cgroup_mounts()
        self.private_controllers: list[str] = args.private_cgroup or []

    # -- cgroups ------------------------------------------------------------------------------
    def mount_cgroups(self) -> None:
        """What systemd expects on a cgroup v1 host (hybrid: v1 controllers, name=systemd, cgroup2 at unified)."""
        mount(str(CGROUP_BASE), "tmpfs", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev,noexec", "cgroup")
        for name, options in self.hierarchies.items():
            point = CGROUP_BASE / name
            point.mkdir()
            if options == "cgroup2":
                mount(str(point), "cgroup2", "-t", "cgroup2", "-o", "nosuid,nodev,noexec", "cgroup2")
            else:
                wanted = ",".join(o for o in options.split(",") if o not in {"rw", "ro", "relatime"})
                mount(str(point), "cgroup", "-t", "cgroup", "-o", f"nosuid,nodev,noexec,{wanted}", "cgroup")
        for controllers in self.private_controllers:
            point = CGROUP_BASE / controllers
            point.mkdir()
            mount(str(point), "cgroup", "-t", "cgroup", "-o", f"nosuid,nodev,noexec,{controllers}", "cgroup")
            if "," in controllers:
                for single in controllers.split(","):
                    (CGROUP_BASE / single).symlink_to(controllers)
        run("mount", "-o", "remount,ro,nosuid,nodev,noexec,mode=755", str(CGROUP_BASE))

    # -- mounts -------------------------------------------------------------------------------
    def mount_all(self) -> None:
        """Every mount is checked in /proc/self/mountinfo before anything is written into it."""
        for name in (*OVERLAYS, "dpkg"):
            (self.state / "upper" / name).mkdir(parents=True, exist_ok=True)
            (self.state / "work" / name).mkdir(parents=True, exist_ok=True)
        self.fresh_dirs()
        var_lib = self.state / "var-lib"
        var_log = self.state / "var-log"
        for path in (var_lib / "dpkg", var_log):
            path.mkdir(parents=True, exist_ok=True)
        self.package_dirs(var_lib)
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
        self.fresh_dev()
        # Read-only, as in a container: systemd then leaves the host's devices alone.
        mount("/sys", "sysfs", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs")
        self.mount_cgroups()
        run("mount", "--make-rshared", "/")

    @staticmethod
    def fs_type(path: Path) -> str:
        """The type of the file system holding `path` (in the host's view, before it is mounted over)."""
        best = ("", "")
        for point, fstype, _ in mountinfo():
            if (str(path) + "/").startswith(point.rstrip("/") + "/") and len(point) >= len(best[0]):
                best = (point, fstype)
        return best[1]

    def overlay(self, lower: str, target: Path, name: str) -> None:
        upper, work = self.state / "upper" / name, self.state / "work" / name
        options = f"lowerdir={lower},upperdir={upper},workdir={work}"
        mount(str(target), "overlay", "-t", "overlay", "-o", options, "overlay")

    @staticmethod
    def package_dirs(var_lib: Path) -> None:
        """The directories the host's packages own under /var/lib (/var/lib/haproxy/dev, which haproxy.service binds
        /dev/log onto), empty, with their modes: a host has them from installing those packages, and the node's
        /var/lib is its own."""
        for listing in sorted(Path("/var/lib/dpkg/info").glob("*.list")):
            for line in listing.read_text(errors="replace").splitlines():
                host = Path(line)
                if not line.startswith("/var/lib/") or line.startswith("/var/lib/dpkg") or host.is_symlink():
                    continue
                if host.is_dir():
                    inside = var_lib / host.relative_to("/var/lib")
                    if not inside.exists():
                        info = host.stat()
                        inside.mkdir(parents=True)
                        os.chown(inside, info.st_uid, info.st_gid)
                        inside.chmod(info.st_mode & 0o7777)

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
        for point, _, _ in reversed(mountinfo()):
            if point.startswith("/run/netns/"):
                run("umount", "-l", point, check=False)
        mount("/run", "tmpfs", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs")
        Path("/run/lock").mkdir(mode=0o1777)
        Path("/run/lock").chmod(0o1777)

    def fresh_dev(self) -> None:
        """A /dev of the node's own: the host's devices (and its console) stay out of sight."""
        mount("/dev", "tmpfs", "-t", "tmpfs", "-o", "mode=755,nosuid", "dev")
        for name, (major, minor) in DEVICES.items():
            path = Path("/dev", name)
            path.parent.mkdir(exist_ok=True)
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            path.chmod(0o600 if name == "kmsg" else 0o666)
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "fd/0"), ("stdout", "fd/1"), ("stderr", "fd/2")):
            Path("/dev", name).symlink_to(target)
        Path("/dev/pts").mkdir()
        mount("/dev/pts", "devpts", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620,gid=5", "devpts")
        Path("/dev/ptmx").symlink_to("pts/ptmx")
        for name in ("shm", "mqueue", "hugepages"):
            Path("/dev", name).mkdir()
        mount("/dev/shm", "tmpfs", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "shm")  # noqa: S108 - the node's

    def console(self) -> None:
        """A pty as /dev/console; a child copies what systemd writes there into init.log."""
        master, slave = pty.openpty()
        Path("/dev/console").touch(mode=0o600)
        mount("/dev/console", None, "--bind", os.ttyname(slave))
        if os.fork() == 0:  # pragma: no cover - the console reader, a child of systemd from now on
            # It keeps `slave` open: a pty whose every slave is closed reads EIO, and systemd closes and
            # reopens the console. Were the reader gone, systemd would block on a full console.
            os.setsid()
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    os._exit(0)
                if not data:
                    os._exit(0)
                os.write(1, data.replace(b"\r\n", b"\n"))
        os.close(slave)
        os.close(master)

    # -- identity, network, ssh --------------------------------------------------------------
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

    def first_boot(self) -> None:
        if FIRST_BOOT_MARK.exists():
            return
        log("first boot: forgetting the host's enabled units, fstab and removed packages' conffiles")
        base = Path("/etc/systemd/system")
        for pattern in ("*.wants", "*.requires"):
            for directory in base.glob(pattern):
                for link in directory.iterdir():
                    link.unlink()
        for unit in MASKED_UNITS:
            (base / unit).unlink(missing_ok=True)
            (base / unit).symlink_to("/dev/null")
        Path("/etc/fstab").write_text("# kubeforge test bed: tools/nodes/init.py mounts the node's file systems\n")
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
            path = f"/etc/ssh/ssh_host_{kind}_key"
            run("ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{self.name}", "-f", path)
        wants = base / "multi-user.target.wants"
        wants.mkdir(exist_ok=True)
        (wants / "ssh.service").symlink_to("/lib/systemd/system/ssh.service")
        (base / "default.target").unlink(missing_ok=True)
        (base / "default.target").symlink_to("/lib/systemd/system/multi-user.target")
        FIRST_BOOT_MARK.write_text(self.name + "\n")

    def ssh(self) -> None:
        ip = self.address.split("/")[0]
        Path("/etc/ssh/sshd_config").write_text(SSHD_CONFIG.format(name=self.name, address=ip))
        ssh_dir = Path("/root/.ssh")
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(self.pubkey + "\n")
        (ssh_dir / "authorized_keys").chmod(0o600)

    def journald(self) -> None:
        """/dev/kmsg is the machine's: its kernel log belongs in no node's journal. The journal lives
        in /run (memory), so it is kept small."""
        dropin = Path("/run/systemd/journald.conf.d/50-kubeforge.conf")
        dropin.parent.mkdir(parents=True)
        dropin.write_text(JOURNALD_DROPIN)

    def install_importer(self) -> None:
        if not self.images:
            return
        NODE_LIB.mkdir(parents=True, exist_ok=True)
        (NODE_LIB / IMPORTER).write_bytes(self.importer)
        dropin = Path("/run/systemd/system/containerd.service.d/50-kubeforge-images.conf")
        dropin.parent.mkdir(parents=True)
        dropin.write_text(IMAGES_DROPIN.format(importer=NODE_LIB / IMPORTER))

    def boot(self) -> None:
        os.chdir("/")
        run("mount", "--make-rprivate", "/")
        # nodes.py started this process in kubeforge/<node> of every hierarchy: that subtree becomes the root.
        unshare_cgroup_namespace()
        self.mount_all()
        self.identity()
        self.network()
        self.first_boot()
        self.ssh()
        self.journald()
        self.install_importer()
        self.console()
        log(f"{self.name} set up ({self.address}); exec {SYSTEMD}")

    def exec_systemd(self) -> None:
        os.closerange(3, 1 << 16)
        console = os.open("/dev/console", os.O_RDWR | os.O_NOCTTY)
        for fd in (0, 1, 2):
            os.dup2(console, fd)
        os.close(console)
        env = {"container": "other", "PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
        os.execve(SYSTEMD, [SYSTEMD], env)  # noqa: S606 - the node's PID 1, by design


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


IMAGES_DROPIN = """\
# kubeforge test bed (tools/nodes/init.py): there is no registry, so the images the test bed was
# given are imported into this containerd before `systemctl start containerd` returns (once per
# containerd root). A real host pulls them instead.
[Service]
ExecStartPost=-/usr/bin/python3 {importer}
TimeoutStartSec=600
"""


JOURNALD_DROPIN = """\
# kubeforge test bed (tools/nodes/init.py)
[Journal]
ReadKMsg=no
RuntimeMaxUse=32M
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--address", required=True, help="CIDR on eth0, e.g. 198.18.0.11/24")
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--pubkey", required=True)
    parser.add_argument("--host", action="append", help="NAME=ADDRESS for /etc/hosts (repeatable)")
    parser.add_argument("--images")
    parser.add_argument("--mirror")
    parser.add_argument(
        "--private-cgroup", action="append", help="v1 controllers the host does not mount, e.g. net_cls,net_prio"
    )
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
    node.exec_systemd()
    return 1


if __name__ == "__main__":
    sys.exit(main())
