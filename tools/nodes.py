#!/usr/bin/env python3
"""The real-node test bed: N Linux "nodes" on this machine that Ansible reaches over SSH.

Each node is a network + mount + UTS + PID + cgroup namespace (`setsid unshare … tools/nodes/init.py`,
which sets the node up and execs the distribution's systemd as the node's PID 1) with its own /etc, /usr,
/opt, /root and /var (overlays of the host's), private /var/lib and /var/log, its own cgroup subtree
(kubeforge/<node> in every hierarchy, the root of the node's cgroup namespace) and its own sshd, a systemd
service like on any host. The nodes sit on the bridge kfbr0 (198.18.0.1/24) in the network namespace
`kubeforge-nodes`, which has no link to the host's network; their default route points at 198.18.0.254,
which nothing answers, so nothing a node sends leaves this machine. Every node is dual-stack, as a host of a
dual-stack cluster must be: the bridge also has fd00:198:18::1/64, each node fd00:198:18::<10+i>/64 beside
198.18.0.<10+i>/24 and an IPv6 default route to fd00:198:18::fe, which nothing answers either.

    nodes.py up --nodes N [--images DIR]   kf-node-1..N at 198.18.0.11..(10+N); harmless when up
    nodes.py down                          stop everything `up` started and remove it
    nodes.py status                        exit 0 when every node runs
    nodes.py exec NODE -- CMD…             run CMD in the node (nsenter: net, mount, uts, pid, cgroup)
    nodes.py deps                          the Debian packages the test bed needs, on one line

Reaching a node from the host (only ever through the namespace):
    ssh -F .nodes/ssh/config kf-node-1          or Ansible with .nodes/inventory.yml, i.e.
    ansible_ssh_common_args: -o ProxyCommand="ip netns exec kubeforge-nodes socat STDIO TCP:%h:22"
    with ansible_user root and the key .nodes/ssh/id_ed25519 (known_hosts: .nodes/ssh/known_hosts).

State (PIDs, per-node upper dirs) lives in .nodes/ (git-ignored). Python standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE_DIR = REPO / ".nodes"
INIT = REPO / "tools" / "nodes" / "init.py"
NODE_PYTHON = "/usr/bin/python3"  # the distribution's Python: what the nodes (and Ansible on them) use
NETNS = "kubeforge-nodes"
BRIDGE = "kfbr0"
SUBNET = "198.18.0"
BRIDGE_ADDRESS = f"{SUBNET}.1/24"
GATEWAY = f"{SUBNET}.254"  # a default route that nothing answers
# The same layout in IPv6 (fd00::/8 is unique-local: routed nowhere outside a site), for dual-stack clusters.
SUBNET6 = "fd00:198:18:"
BRIDGE_ADDRESS6 = f"{SUBNET6}:1/64"
GATEWAY6 = f"{SUBNET6}:fe"  # an IPv6 default route that nothing answers
NODE_PREFIX = "kf-node-"
MAX_NODES = 50
CGROUP_BASE = Path("/sys/fs/cgroup")
CGROUP_PARENT = "kubeforge"
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOOT_TIMEOUT = 90
# How long `down` gives the nodes' systemd to stop its units before the rest is killed: the files go with
# the nodes, so a pod that ignores SIGTERM for systemd's 90 s is not waited for.
STOP_TIMEOUT = 10
# systemd's "poweroff" signal: a container's systemd stops its units and exits (SIGTERM would re-execute it).
POWEROFF = signal.SIGRTMIN + 4
PROXY_COMMAND = f"ip netns exec {NETNS} socat STDIO TCP:%h:22"

# program → the Debian package that provides it
PREREQUISITES = {
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "socat": "socat",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "setsid": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "ip": "iproute2",
}


class NodesError(Exception):
    """A failure the user can act on."""


def deb_packages() -> list[str]:
    """The Debian packages `apt-get install` needs for the test bed (python3 is a given)."""
    return sorted(set(PREREQUISITES.values()))


def check_prerequisites() -> None:
    missing = {}
    for program, package in PREREQUISITES.items():
        if not shutil.which(program, path=f"{os.environ.get('PATH', '')}:{SEARCH_PATH}"):
            missing.setdefault(package, []).append(program)
    if not Path(NODE_PYTHON).exists():
        missing.setdefault("python3", []).append(NODE_PYTHON)
    if missing:
        what = "; ".join(f"{', '.join(progs)} (Debian package {pkg})" for pkg, progs in sorted(missing.items()))
        raise NodesError(f"missing {what}: apt-get install -y {' '.join(sorted(missing))}")
    if os.geteuid() != 0:
        raise NodesError("the test bed needs root (namespaces, mounts, cgroups, links)")
    if "overlay" not in Path("/proc/filesystems").read_text():
        raise NodesError("the kernel has no overlayfs (needed for the nodes' /etc, /usr, /opt, /root, /var)")


def node_names(count: int) -> list[str]:
    return [f"{NODE_PREFIX}{i}" for i in range(1, count + 1)]


def node_address(index: int) -> str:
    return f"{SUBNET}.{10 + index}"


def node_address6(index: int) -> str:
    """The node's IPv6 address, spelt like its IPv4 one: kf-node-1 is fd00:198:18::11 (beside 198.18.0.11)."""
    return f"{SUBNET6}:{10 + index}"


def veth_name(name: str) -> str:
    return f"ve-{name}"[:15]


# ---------------------------------------------------------------------------------------------
# Processes


def proc_starttime(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat; None when the PID is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in {"Z", "X"} else fields[19]


def alive(pid: int, starttime: str) -> bool:
    """The PID still runs the process we recorded (not a reused PID)."""
    return pid > 0 and proc_starttime(pid) == starttime


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == str(pid):
                found.append(int(entry))
    return found


def stop_process(pid: int, starttime: str, timeout: float = STOP_TIMEOUT, sig: int = signal.SIGTERM) -> None:
    """`sig`, wait, SIGKILL after `timeout`; only if the PID is still ours."""
    if not alive(pid, starttime):
        return
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid, starttime) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid, starttime):
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(pid, starttime) and time.monotonic() < deadline:
            time.sleep(0.05)


def run(*argv: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NodesError(f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


# ---------------------------------------------------------------------------------------------
# cgroups: kubeforge/<node> in every hierarchy, the root of the node's cgroup namespace


def cgroup_hierarchies() -> list[Path]:
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        point = Path(left.split()[4])
        if right.split()[0] in {"cgroup", "cgroup2"} and point.parent == CGROUP_BASE:
            found.append(point)
    return sorted(set(found))


def unmounted_controllers() -> list[str]:
    """The kernel's v1 controllers that no hierarchy carries, grouped as systemd mounts them.

    A node mounts them privately (init.py --private-cgroup); nodes.py mounts them only for a moment,
    in a scratch directory, to remove the nodes' cgroups there.
    """
    names = []
    for line in Path("/proc/cgroups").read_text().splitlines()[1:]:
        name, hierarchy, _count, enabled = line.split()
        if hierarchy == "0" and enabled == "1":
            names.append(name)
    groups = []
    for name in names:
        partner = next((b if a == name else a for a, b in JOINED_CONTROLLERS if name in (a, b)), None)
        group = ",".join(sorted((name, partner))) if partner in names else name
        if group not in groups:
            groups.append(group)
    return groups


JOINED_CONTROLLERS = (("cpu", "cpuacct"), ("net_cls", "net_prio"))


@contextlib.contextmanager
def private_hierarchies(scratch: Path):
    """The hierarchies of unmounted_controllers(), mounted under `scratch` while the block runs."""
    mounted = []
    try:
        for controllers in unmounted_controllers():
            point = scratch / controllers
            point.mkdir(parents=True, exist_ok=True)
            run("mount", "-t", "cgroup", "-o", controllers, "cgroup", str(point))
            mounted.append(point)
        yield mounted
    finally:
        for point in reversed(mounted):
            run("umount", str(point), check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def create_cgroups(name: str, extra: list[Path] = ()) -> None:
    for hierarchy in [*cgroup_hierarchies(), *extra]:
        path = hierarchy
        for part in (CGROUP_PARENT, name):
            parent, path = path, path / part
            path.mkdir(exist_ok=True)
            for knob in ("cpuset.cpus", "cpuset.mems"):
                target = path / knob
                if target.exists() and not target.read_text().strip():
                    target.write_text((parent / knob).read_text())


def node_cgroups(name: str, extra: list[Path] = ()) -> list[Path]:
    hierarchies = [*cgroup_hierarchies(), *extra]
    return [h / CGROUP_PARENT / name for h in hierarchies if (h / CGROUP_PARENT / name).is_dir()]


def cgroup_pids(name: str, extra: list[Path] = ()) -> set[int]:
    pids: set[int] = set()
    for top in node_cgroups(name, extra):
        for directory, _, _ in os.walk(top):
            with contextlib.suppress(OSError):
                pids |= {int(p) for p in Path(directory, "cgroup.procs").read_text().split()}
    return pids


def kill_cgroup_processes(name: str, extra: list[Path] = (), timeout: float = 10) -> None:
    """Whatever is left in the node's cgroups (only the node's own processes live there)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = {pid for pid in cgroup_pids(name, extra) if proc_starttime(pid) is not None}
        if not pids:
            return
        if time.monotonic() > deadline:
            raise NodesError(f"processes {sorted(pids)} of {name} survive SIGKILL")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def remove_cgroups(name: str, extra: list[Path] = ()) -> None:
    for top in node_cgroups(name, extra):
        for directory, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            deadline = time.monotonic() + 5
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:  # EBUSY while the kernel finishes tearing tasks down
                    if time.monotonic() > deadline:
                        raise NodesError(f"cannot remove cgroup {directory}: {exc.strerror}") from exc
                    time.sleep(0.1)
    for hierarchy in [*cgroup_hierarchies(), *extra]:
        with contextlib.suppress(OSError):
            (hierarchy / CGROUP_PARENT).rmdir()  # only when no node is left in it


# ---------------------------------------------------------------------------------------------
# State


@dataclass
class NodeRecord:
    name: str
    index: int
    address: str
    pid: int = 0
    starttime: str = ""
    unshare_pid: int = 0
    unshare_starttime: str = ""

    @property
    def running(self) -> bool:
        return alive(self.pid, self.starttime)


@dataclass
class State:
    count: int
    images: str | None
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    created_run_netns: bool = False

    @classmethod
    def load(cls, path: Path) -> State | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        nodes = {name: NodeRecord(**record) for name, record in data.pop("nodes", {}).items()}
        return cls(nodes=nodes, **data)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)


# The key Ansible and testinfra use, while the nodes are up (removed by `down`).
ACCESS_DIR = Path("/run/kubeforge-nodes")


class RealNodes:
    def __init__(self, state_dir: Path = STATE_DIR):
        self.dir = state_dir
        self.state_file = state_dir / "state.json"
        self.key = state_dir / "ssh" / "id_ed25519"
        self.known_hosts = state_dir / "ssh" / "known_hosts"
        self.ssh_config = state_dir / "ssh" / "config"
        self.inventory = state_dir / "inventory.yml"

    @contextlib.contextmanager
    def locked(self):
        self.dir.mkdir(exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def state(self) -> State | None:
        return State.load(self.state_file)

    def node_dir(self, name: str) -> Path:
        return self.dir / name

    # -- up ----------------------------------------------------------------------------------
    def up(self, count: int, images: Path | None, mirror: Path | None = None) -> list[str]:
        """Start what is not running; the names of the nodes (re)booted."""
        if not 1 <= count <= MAX_NODES:
            raise NodesError(f"--nodes {count}: choose 1 to {MAX_NODES}")
        images_text = str(images.resolve()) if images else None
        if images and not images.is_dir():
            raise NodesError(f"--images {images}: not a directory (tools/images.py writes one)")
        check_prerequisites()
        with self.locked():
            state = self.state()
            if state and state.count != count:
                raise NodesError(f"{state.count} node(s) are up, not {count}: run `python3 tools/nodes.py down` first")
            if state and state.images != images_text and any(n.running for n in state.nodes.values()):
                raise NodesError(
                    f"the nodes run with --images {state.images or '(none)'}, not {images_text or '(none)'}: "
                    "run `python3 tools/nodes.py down` first"
                )
            state = state or State(count=count, images=images_text)
            state.images = images_text
            self.dir.mkdir(exist_ok=True)
            self.ensure_key()
            self.ensure_network(state)
            state.save(self.state_file)
            booted = []
            for index, name in enumerate(node_names(count), start=1):
                record = state.nodes.get(name)
                if record and record.running:
                    continue
                if record:
                    print(f"{name} is not running: booting it again (its files are kept)", file=sys.stderr)
                    self.clean_node(record, keep_files=True)
                record = self.start_node(name, index, count, images_text, str(mirror.resolve()) if mirror else None)
                state.nodes[name] = record
                state.save(self.state_file)
                booted.append(name)
            for name in booted:
                self.wait_booted(state.nodes[name])
            for name in node_names(count):
                self.ensure_ipv6(state.nodes[name])
            self.write_access_files(state)
            self.check_ssh([state.nodes[n] for n in node_names(count)])
            return booted

    def ensure_key(self) -> None:
        if self.key.exists():
            return
        self.key.parent.mkdir(mode=0o700, exist_ok=True)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kubeforge-nodes", "-f", str(self.key))

    def ensure_network(self, state: State) -> None:
        if not Path(f"/run/netns/{NETNS}").exists():
            state.created_run_netns = state.created_run_netns or not Path("/run/netns").is_dir()
            run("ip", "netns", "add", NETNS)
        links = run("ip", "-n", NETNS, "-o", "link", "show").stdout
        run("ip", "-n", NETNS, "link", "set", "lo", "up")
        if f" {BRIDGE}:" not in links:
            run("ip", "-n", NETNS, "link", "add", BRIDGE, "type", "bridge")
            run("ip", "-n", NETNS, "addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE)
        # nodad: usable at once (nothing else on the bridge can hold it); replace: harmless when it is there.
        run("ip", "-n", NETNS, "-6", "addr", "replace", BRIDGE_ADDRESS6, "dev", BRIDGE, "nodad")
        run("ip", "-n", NETNS, "link", "set", BRIDGE, "up")

    def start_node(self, name: str, index: int, count: int, images: str | None, mirror: str | None) -> NodeRecord:
        node_dir = self.node_dir(name)
        node_dir.mkdir(exist_ok=True)
        address = node_address(index)
        argv = [
            "setsid",
            "unshare",
            "--net",
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--propagation",
            "private",
            "--kill-child",
            NODE_PYTHON,
            str(INIT),
            "--name",
            name,
            "--address",
            f"{address}/24",
            "--gateway",
            GATEWAY,
            "--state-dir",
            str(node_dir),
            "--pubkey",
            str(self.key) + ".pub",
        ]
        for other_index, other in enumerate(node_names(count), start=1):
            argv += ["--host", f"{other}={node_address(other_index)}"]
        if images:
            argv += ["--images", images]
        if mirror:
            argv += ["--mirror", mirror]
        for controllers in unmounted_controllers():
            argv += ["--private-cgroup", controllers]
        with open(node_dir / "init.log", "ab") as log:
            log.write(f"\n==== boot {time.strftime('%F %T')} ====\n".encode())
            log.flush()
            with private_hierarchies(node_dir / "cgroup-scratch") as extra:
                create_cgroups(name, extra)
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={"PATH": SEARCH_PATH, "HOME": "/root", "LANG": "C.UTF-8"},
                    preexec_fn=lambda: join_node_cgroups(name, extra),  # noqa: PLW1509 - nodes.py has no threads
                )
        record = NodeRecord(name=name, index=index, address=address, unshare_pid=proc.pid)
        record.unshare_starttime = proc_starttime(proc.pid) or ""
        deadline = time.monotonic() + 10
        while not record.pid:
            kids = children_of(proc.pid)
            if kids:
                record.pid = kids[0]
                record.starttime = proc_starttime(record.pid) or ""
            elif proc.poll() is not None or time.monotonic() > deadline:
                raise NodesError(f"{name} did not start: {self.tail(node_dir / 'init.log')}")
            else:
                time.sleep(0.01)
        veth = veth_name(name)
        run("ip", "-n", NETNS, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", str(record.pid))
        run("ip", "-n", NETNS, "link", "set", veth, "master", BRIDGE, "up")
        return record

    def wait_booted(self, record: NodeRecord) -> None:
        """Until the node's systemd says it has booted: `running`, or the units that failed."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        state = ""
        while True:
            if not record.running:
                raise NodesError(
                    f"{record.name} stopped while booting:\n{self.tail(self.node_dir(record.name) / 'init.log')}"
                )
            # --wait blocks until the boot has finished; it returns at once only while systemd's bus is not up.
            try:
                proc = self.node_run(
                    record, "systemctl", "is-system-running", "--wait", timeout=max(1.0, deadline - time.monotonic())
                )
                state = proc.stdout.strip()
            except subprocess.TimeoutExpired:
                state = "starting"
            if state == "running":
                return
            if state == "degraded":
                failed = self.node_run(record, "systemctl", "--failed", "--plain", "--no-legend").stdout
                raise NodesError(f"{record.name} booted with failed units:\n{failed.strip()}")
            if time.monotonic() > deadline:
                raise NodesError(
                    f"{record.name} did not boot in {BOOT_TIMEOUT}s (systemd: {state or proc.stderr.strip()}); "
                    f"see {self.node_dir(record.name) / 'init.log'}"
                )
            time.sleep(0.1)

    def ensure_ipv6(self, record: NodeRecord) -> None:
        """The node's IPv6 address and default route on eth0 (which init.py has brought up with the IPv4 ones).

        They go with the node's network namespace on `down`. Replaced, not added: harmless on a node that has them.
        """
        address = f"{node_address6(record.index)}/64"
        for argv in (
            ("ip", "-6", "addr", "replace", address, "dev", "eth0", "nodad"),
            ("ip", "-6", "route", "replace", "default", "via", GATEWAY6, "dev", "eth0"),
        ):
            proc = self.node_run(record, *argv)
            if proc.returncode != 0:
                raise NodesError(f"{record.name}: `{' '.join(argv)}` failed: {proc.stderr.strip()}")

    def node_run(self, record: NodeRecord, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.nsenter_argv(record, list(command)),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={"PATH": SEARCH_PATH, "LANG": "C.UTF-8"},
            preexec_fn=lambda: join_node_cgroups(record.name),
        )

    @staticmethod
    def nsenter_argv(record: NodeRecord, command: list[str]) -> list[str]:
        namespaces = ["--net", "--mount", "--uts", "--pid", "--cgroup"]
        return ["nsenter", "-t", str(record.pid), *namespaces, "--wdns=/", "--", *command]

    @staticmethod
    def tail(path: Path, lines: int = 20) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def ssh_argv(self, address: str, *command: str) -> list[str]:
        return [
            "ssh",
            "-i",
            str(self.key),
            "-o",
            f"ProxyCommand={PROXY_COMMAND}",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            f"root@{address}",
            *command,
        ]

    def check_ssh(self, records: list[NodeRecord]) -> None:
        """Every node answers over SSH through the namespace, as Ansible will reach it."""
        procs = {
            r.name: subprocess.Popen(
                self.ssh_argv(r.address, "hostname"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for r in records
        }
        failures = []
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=60)
            if proc.returncode != 0 or out.decode().strip() != name:
                failures.append(f"{name}: ssh said {out.decode().strip()!r} {err.decode().strip()}")
        if failures:
            raise NodesError("sshd does not answer as expected:\n" + "\n".join(failures))

    def write_access_files(self, state: State) -> None:
        # A fixed path, like the namespace's name, so that inventories/nodes names the key without a
        # template (testinfra reads the inventory through ansible-inventory, which renders none).
        ACCESS_DIR.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(self.key, ACCESS_DIR / "id_ed25519")
        (ACCESS_DIR / "id_ed25519").chmod(0o600)
        lines = []
        for record in state.nodes.values():
            etc_ssh = self.node_dir(record.name) / "upper" / "etc" / "ssh"
            for pub in sorted(p for p in etc_ssh.glob("ssh_host_*_key.pub") if p.is_file()):
                kind, key = pub.read_text().split()[:2]
                lines.append(f"{record.address},{record.name} {kind} {key}")
        self.known_hosts.write_text("\n".join(lines) + "\n")
        config = [
            "# Generated by tools/nodes.py up: ssh -F .nodes/ssh/config kf-node-1",
            f"Host {NODE_PREFIX}* {SUBNET}.*",
            "  User root",
            f"  IdentityFile {self.key}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.known_hosts}",
            "  StrictHostKeyChecking yes",
            f"  ProxyCommand {PROXY_COMMAND}",
        ]
        for record in state.nodes.values():
            config += [f"Host {record.name}", f"  HostName {record.address}"]
        self.ssh_config.write_text("\n".join(config) + "\n")
        common_args = (
            f'-o ProxyCommand="{PROXY_COMMAND}" -o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes'
        )
        inventory = [
            "# Generated by tools/nodes.py up: the running test-bed nodes.",
            "all:",
            "  hosts:",
        ]
        for record in state.nodes.values():
            inventory += [f"    {record.name}:", f"      ansible_host: {record.address}"]
        inventory += [
            "  vars:",
            "    ansible_user: root",
            f"    ansible_ssh_private_key_file: {json.dumps(str(self.key))}",
            f"    ansible_ssh_common_args: {json.dumps(common_args)}",
            "    ansible_python_interpreter: /usr/bin/python3",
        ]
        self.inventory.write_text("\n".join(inventory) + "\n")

    # -- down --------------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop and remove everything `up` made; the names of the nodes that were found."""
        with self.locked():
            state = self.state()
            names = set(state.nodes) if state else set()
            if self.dir.is_dir():
                names |= {p.name for p in self.dir.iterdir() if p.is_dir() and p.name.startswith(NODE_PREFIX)}
            for hierarchy in cgroup_hierarchies():
                parent = hierarchy / CGROUP_PARENT
                if parent.is_dir():
                    names |= {p.name for p in parent.iterdir() if p.is_dir() and p.name.startswith(NODE_PREFIX)}
            records = [state.nodes[n] for n in sorted(names) if state and n in state.nodes]
            for record in records:  # poweroff to every PID 1 first, so the nodes stop in parallel
                if record.running:
                    os.kill(record.pid, POWEROFF)
            deadline = time.monotonic() + STOP_TIMEOUT
            while any(r.running for r in records) and time.monotonic() < deadline:
                time.sleep(0.1)
            for name in sorted(names):
                record = state.nodes.get(name) if state else None
                self.clean_node(record or NodeRecord(name=name, index=0, address=""), keep_files=False)
            self.remove_network(state)
            self.unmount_leftovers()
            for path in (self.state_file, self.known_hosts, self.ssh_config, self.inventory):
                path.unlink(missing_ok=True)
            shutil.rmtree(ACCESS_DIR, ignore_errors=True)
            return sorted(names)

    def clean_node(self, record: NodeRecord, keep_files: bool) -> None:
        if record.pid:
            # `down` has given it STOP_TIMEOUT to power off; killing a PID namespace's first process kills the rest.
            stop_process(record.pid, record.starttime, sig=signal.SIGKILL, timeout=0)
        if record.unshare_pid:
            stop_process(record.unshare_pid, record.unshare_starttime, timeout=5)
        with private_hierarchies(self.dir / "cgroup-scratch") as extra:
            kill_cgroup_processes(record.name, extra)
            remove_cgroups(record.name, extra)
        if Path(f"/run/netns/{NETNS}").exists():
            veth = veth_name(record.name)
            if run("ip", "-n", NETNS, "link", "show", veth, check=False).returncode == 0:
                # The peer goes away on its own once the node's namespace does: a lost race is fine.
                run("ip", "-n", NETNS, "link", "delete", veth, check=False)
        self.unmount_leftovers(self.node_dir(record.name))
        if not keep_files:
            node_dir = self.node_dir(record.name)
            if node_dir.exists():
                shutil.rmtree(node_dir)

    def remove_network(self, state: State | None) -> None:
        if Path(f"/run/netns/{NETNS}").exists():
            # ssh ProxyCommands (socat) still connected to the nodes would keep the namespace, and their
            # dead TCP connections, alive: an ssh ControlMaster on them would hang the next session.
            stop_netns_processes(Path(f"/run/netns/{NETNS}"))
            links = run("ip", "-n", NETNS, "-o", "link", "show", check=False).stdout
            for line in links.splitlines():
                link = line.split(":")[1].strip().split("@")[0]
                if link.startswith("ve-" + NODE_PREFIX):
                    run("ip", "-n", NETNS, "link", "delete", link, check=False)
            if f" {BRIDGE}:" in links:
                run("ip", "-n", NETNS, "link", "delete", BRIDGE)
            run("ip", "netns", "delete", NETNS)
        run_netns = Path("/run/netns")
        if state and state.created_run_netns and run_netns.is_dir() and not any(run_netns.iterdir()):
            if any(point == str(run_netns) for point in mount_points()):
                run("umount", str(run_netns), check=False)
            with contextlib.suppress(OSError):
                run_netns.rmdir()

    def unmount_leftovers(self, under: Path | None = None) -> None:
        """Mounts in the host's namespace under .nodes (or the netns file); normally there are none."""
        prefixes = [str(under or self.dir) + "/"]
        if under is None:
            prefixes.append(f"/run/netns/{NETNS}")
        for point in reversed(mount_points()):
            if any((point + "/").startswith(p) or point == p for p in prefixes):
                run("umount", "-l", point, check=False)

    # -- status / exec -------------------------------------------------------------------------
    def status(self) -> int:
        state = self.state()
        if not state or not state.nodes:
            print("no test-bed nodes are up")
            return 1
        code = 0
        for record in sorted(state.nodes.values(), key=lambda r: r.index):
            running = record.running
            code = code if running else 1
            addresses = f"{record.address} {node_address6(record.index)}"
            line = f"{record.name}  {addresses}  pid {record.pid}  {'running' if running else 'NOT RUNNING'}"
            if state.images:
                line += f"  images: {self.images_progress(record, Path(state.images))}"
            print(line)
        print(f"ssh -F {self.ssh_config} {NODE_PREFIX}1   |   ansible -i {self.inventory} all -m ping")
        return code

    def images_progress(self, record: NodeRecord, images: Path) -> str:
        stamp = self.node_dir(record.name) / "var-lib" / "containerd" / ".kubeforge-images.json"
        try:
            done = len(json.loads(stamp.read_text()))
        except (OSError, ValueError):
            done = 0
        return f"{done}/{len(list(images.glob('*.tar')))} imported"

    def exec_argv(self, name: str, command: list[str]) -> list[str]:
        state = self.state()
        record = state.nodes.get(name) if state else None
        if record is None:
            raise NodesError(f"no node {name} (running: {', '.join(sorted(state.nodes)) if state else 'none'})")
        if not record.running:
            raise NodesError(f"{name} is not running: `python3 tools/nodes.py up --nodes {state.count}` boots it")
        if not command:
            raise NodesError("nothing to run: tools/nodes.py exec NODE -- CMD…")
        join_node_cgroups(name)
        return self.nsenter_argv(record, command)


def netns_processes(netns: Path) -> list[int]:
    """The processes whose network namespace is the one bound at `netns`."""
    try:
        wanted = os.stat(netns)
    except OSError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                ns = os.stat(f"/proc/{entry}/ns/net")
            except OSError:
                continue
            if (ns.st_dev, ns.st_ino) == (wanted.st_dev, wanted.st_ino):
                found.append(int(entry))
    return found


def stop_netns_processes(netns: Path, timeout: float = 3) -> None:
    pids = {pid: proc_starttime(pid) for pid in netns_processes(netns)}
    for pid, starttime in pids.items():
        if starttime and alive(pid, starttime):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(st and alive(pid, st) for pid, st in pids.items()):
        time.sleep(0.05)
    for pid, starttime in pids.items():
        if starttime and alive(pid, starttime):
            os.kill(pid, signal.SIGKILL)


def join_node_cgroups(name: str, extra: list[Path] = ()) -> None:
    """Into the root of the node's cgroups, so that what nsenter (or init.py) runs there is inside the node."""
    for hierarchy in [*cgroup_hierarchies(), *extra]:
        procs = hierarchy / CGROUP_PARENT / name / "cgroup.procs"
        if procs.exists():
            procs.write_text(str(os.getpid()))


def mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        points.append(line.split()[4].replace("\\040", " "))
    return points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start N nodes (harmless when they are up)")
    up.add_argument("--nodes", type=int, default=int(os.environ.get("NODES") or 3))
    up.add_argument("--images", type=Path, help="directory of docker-archive tars (tools/images.py)")
    up.add_argument("--mirror", type=Path, help="manifest mirror, read-only at /var/lib/kubeforge-mirror in each node")
    sub.add_parser("down", help="stop the nodes and remove every trace")
    sub.add_parser("status", help="exit 0 when every node runs")
    ex = sub.add_parser("exec", help="run a command inside a node: exec NODE -- CMD…")
    ex.add_argument("node")
    ex.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("deps", help="print the Debian packages the test bed needs")
    args = parser.parse_args(argv)
    bed = RealNodes()
    try:
        if args.command == "deps":
            print(" ".join(deb_packages()))
        elif args.command == "up":
            began = time.monotonic()
            booted = bed.up(args.nodes, args.images, args.mirror)
            how = f"booted {', '.join(booted)} in {time.monotonic() - began:.1f}s" if booted else "already up"
            print(f"{args.nodes} node(s) up ({how}); inventory: {bed.inventory}")
        elif args.command == "down":
            began = time.monotonic()
            found = bed.down()
            print(f"test-bed nodes down ({', '.join(found) or 'nothing was up'}; {time.monotonic() - began:.1f}s)")
        elif args.command == "status":
            return bed.status()
        else:
            command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            argv_ = bed.exec_argv(args.node, command)
            env = {"PATH": SEARCH_PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": os.environ.get("TERM", "dumb")}
            os.execvpe(argv_[0], argv_, env)  # noqa: S606 - nsenter with the caller's command, by design
    except NodesError as exc:
        print(f"nodes.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
