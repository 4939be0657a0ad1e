"""The real-node test bed (tools/nodes.py): two nodes up, reached over SSH through the namespace,
talking over the bridge, their own systemd (PID 1 of each node, in the node's own cgroup subtree) running
and restarting a unit, and nothing left after down.

Runs only as root (namespaces, mounts, cgroups); it leaves alone nodes that someone else has up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NODES = [sys.executable, str(REPO / "tools" / "nodes.py")]
STATE = REPO / ".nodes"
NAMES = ["kf-node-1", "kf-node-2"]
ADDRESSES = {"kf-node-1": "198.18.0.11", "kf-node-2": "198.18.0.12"}
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the test bed needs root: namespaces, mounts, cgroups, links")

DEMO_UNIT = """\
[Unit]
Description=kubeforge demo unit

[Service]
Environment="GREETING=hello there"
EnvironmentFile=-/etc/default/kf-demo
ExecStartPre=/bin/sh -c 'echo pre $$GREETING'
ExecStart=/bin/sh -c 'echo "$GREETING $EXTRA"; exec sleep 3600'
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
"""


def nodes(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
    proc = subprocess.run([*NODES, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"tools/nodes.py {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def on(node: str, script: str, check: bool = True) -> str:
    proc = nodes("exec", node, "--", "/bin/sh", "-c", script, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"{node}: {script!r} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def leftovers(netns: os.stat_result | None = None) -> dict[str, list[str]]:
    """Everything of the test bed that the host could still see (`netns`: the bridge namespace's identity)."""
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if str(STATE) in line.split()[4] or line.split()[4].startswith("/run/netns/kubeforge")
    ]
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {
        "mounts": mounts,
        "netns": [n for n in netns.split() if n == "kubeforge-nodes"],
        "links": [line for line in links.splitlines() if re.search(r"kfbr0|ve-kf-node", line)],
        "cgroups": [str(p) for p in Path("/sys/fs/cgroup").glob("*/kubeforge")],
        "node dirs": [str(p) for p in STATE.glob("kf-node-*")],
        "processes": [_cmdline(pid) for pid in os.listdir("/proc") if pid.isdigit() and _in_a_node(pid)],
        # e.g. ssh ProxyCommands (socat) left in the deleted namespace, which would keep it alive
        "processes in the bridge namespace": [
            _cmdline(pid) for pid in os.listdir("/proc") if pid.isdigit() and netns and _same_netns(pid, netns)
        ],
    }


def _in_a_node(pid: str) -> bool:
    """A live process in a node's cgroup (a zombie the machine's init has yet to reap is dead already)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in {"Z", "X"} and "/kubeforge/" in Path(f"/proc/{pid}/cgroup").read_text()
    except (OSError, IndexError):
        return False


def _same_netns(pid: str, netns: os.stat_result) -> bool:
    try:
        ns = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return False
    return (ns.st_dev, ns.st_ino) == (netns.st_dev, netns.st_ino)


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def ssh(node: str, command: str) -> subprocess.CompletedProcess:
    """What Ansible does: root, the test bed's key, the ProxyCommand through the namespace."""
    return subprocess.run(
        [
            "ssh",
            "-i",
            str(STATE / "ssh" / "id_ed25519"),
            "-o",
            "ProxyCommand=ip netns exec kubeforge-nodes socat STDIO TCP:%h:22",
            "-o",
            f"UserKnownHostsFile={STATE / 'ssh' / 'known_hosts'}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            f"root@{ADDRESSES[node]}",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def two_nodes():
    if os.geteuid() != 0:
        pytest.skip("the test bed needs root")
    if (STATE / "state.json").exists():
        pytest.skip("test-bed nodes are already up (someone else's?): run `python3 tools/nodes.py down` first")
    began = time.monotonic()
    nodes("up", "--nodes", "2")
    state = json.loads((STATE / "state.json").read_text())
    yield {"state": state, "up_seconds": time.monotonic() - began}
    nodes("down")


@as_root
def test_up_twice_is_harmless_and_another_count_is_refused(two_nodes):
    again = nodes("up", "--nodes", "2")
    assert "already up" in again.stdout
    assert json.loads((STATE / "state.json").read_text())["nodes"] == two_nodes["state"]["nodes"]
    other = nodes("up", "--nodes", "3", check=False)
    assert other.returncode == 1
    assert "run `python3 tools/nodes.py down` first" in other.stderr
    assert nodes("status").returncode == 0


@as_root
def test_sshd_answers_through_the_proxy_command(two_nodes):
    for name in NAMES:
        proc = ssh(name, "hostname; id -u; ip -4 -o addr show eth0; ip route show default")
        assert proc.returncode == 0, proc.stderr
        hostname, uid, addr, route = proc.stdout.splitlines()
        assert (hostname, uid) == (name, "0")
        assert f"{ADDRESSES[name]}/24" in addr
        assert route.startswith("default via 198.18.0.254")


@as_root
def test_nodes_reach_each_other_over_the_bridge(two_nodes):
    ping = "ping" if shutil.which("ping") else "busybox ping"
    out = on("kf-node-1", f"{ping} -c 2 -W 2 {ADDRESSES['kf-node-2']}")
    assert " 0% packet loss" in out
    # …and each node is its own host: its hostname, its /etc/hosts, its own view of the links
    assert on("kf-node-2", "hostname; grep kf-node-2 /etc/hosts; ls /sys/class/net").split() == [
        "kf-node-2",
        ADDRESSES["kf-node-2"],
        "kf-node-2",
        "eth0",
        "lo",
    ]


@as_root
def test_a_unit_starts_restarts_and_comes_back_after_a_kill(two_nodes):
    node = "kf-node-2"
    on(node, f"cat > /etc/systemd/system/kf-demo.service <<'EOF'\n{DEMO_UNIT}EOF")
    on(node, "echo EXTRA=from-file > /etc/default/kf-demo")
    on(node, "systemctl daemon-reload && systemctl enable --now kf-demo")
    assert on(node, "systemctl is-active kf-demo; systemctl is-enabled kf-demo").split() == ["active", "enabled"]
    first = int(on(node, "systemctl show -p MainPID --value kf-demo"))
    assert first > 0
    log = on(node, "journalctl -u kf-demo --no-pager -o cat")
    assert "pre hello there" in log
    assert "hello there from-file" in log

    on(node, "systemctl restart kf-demo")
    second = int(on(node, "systemctl show -p MainPID --value kf-demo"))
    assert second not in {0, first}

    on(node, f"kill -9 {second}")
    deadline = time.monotonic() + 15
    third = 0
    while time.monotonic() < deadline:
        third = int(on(node, "systemctl show -p MainPID --value kf-demo") or 0)
        if third not in {0, second}:
            break
        time.sleep(0.3)
    assert third not in {0, second}, "Restart=always did not bring the unit back"
    assert on(node, "systemctl show -p NRestarts --value kf-demo").strip() == "1"
    status = on(node, "systemctl status kf-demo")
    assert "Loaded: loaded (/etc/systemd/system/kf-demo.service; enabled; preset: enabled)" in status
    assert f"Main PID: {third} (sleep)" in status

    # systemd put it in its own cgroup, under the node's subtree of the machine's hierarchy
    assert on(node, f"grep :memory: /proc/{third}/cgroup").strip().endswith(":/system.slice/kf-demo.service")
    host_view = Path(f"/sys/fs/cgroup/memory/kubeforge/{node}/system.slice/kf-demo.service/cgroup.procs")
    assert [_innermost_pid(pid) for pid in host_view.read_text().split()] == [third]

    on(node, "systemctl stop kf-demo")
    assert on(node, "systemctl is-active kf-demo", check=False).strip() == "inactive"
    assert "sleep 3600" not in on(node, "ps -eo args")


def _innermost_pid(pid: str) -> int:
    """A process's PID in its own PID namespace (NSpid lists it in every namespace, outermost first)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[-1] for line in status.splitlines() if line.startswith("NSpid:")))


@as_root
def test_the_node_runs_systemd_as_pid_1_in_its_own_cgroup_namespace(two_nodes):
    assert on("kf-node-1", "cat /proc/1/comm").strip() == "systemd"
    assert on("kf-node-1", "systemctl is-system-running").strip() == "running"
    # the node sees its subtree as the root: its PID 1 in /init.scope, as on a host
    assert ":name=systemd:/init.scope" in on("kf-node-1", "cat /proc/1/cgroup")
    host_pid = two_nodes["state"]["nodes"]["kf-node-1"]["pid"]
    assert "/kubeforge/kf-node-1/init.scope" in Path(f"/proc/{host_pid}/cgroup").read_text()
    # the machine's kernel log stays out of the node's journal, the host's enabled services out of its boot
    assert on("kf-node-1", "journalctl -k -q --no-pager").strip() == ""
    assert on("kf-node-1", "systemctl list-units --all --plain --no-legend postgresql* getty@*").strip() == ""


@as_root
def test_ansible_sees_systemd_and_manages_the_unit(two_nodes):
    ansible = Path(sys.executable).parent / "ansible"
    if not ansible.exists():
        pytest.skip("ansible is not installed next to this Python (make venv)")
    inventory = str(STATE / "inventory.yml")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3"}

    def ansible_json(*args: str) -> dict:
        proc = subprocess.run(
            [str(ansible), "-i", inventory, "kf-node-2", "-o", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout.split("=>", 1)[1])

    facts = ansible_json("-m", "ansible.builtin.setup", "-a", "filter=ansible_service_mgr")
    assert facts["ansible_facts"]["ansible_service_mgr"] == "systemd"
    args = "name=kf-demo state=restarted enabled=true daemon_reload=true"
    result = ansible_json("-m", "ansible.builtin.systemd_service", "-a", args)
    assert result["changed"] is True
    assert result["status"]["LoadState"] == "loaded"
    assert on("kf-node-2", "systemctl is-active kf-demo").strip() == "active"
    again = ansible_json("-m", "ansible.builtin.systemd_service", "-a", "name=kf-demo state=started enabled=true")
    assert again["changed"] is False
    on("kf-node-2", "systemctl disable --now kf-demo")


@as_root
def test_down_leaves_nothing_behind(two_nodes):
    pids = [(r["pid"], r["starttime"]) for r in two_nodes["state"]["nodes"].values()]
    netns = os.stat("/run/netns/kubeforge-nodes")
    # a connection through the namespace still open at `down`, as an ssh ControlMaster leaves one
    proxy = subprocess.Popen(
        ["ip", "netns", "exec", "kubeforge-nodes", "socat", "STDIO", f"TCP:{ADDRESSES['kf-node-1']}:22"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    nodes("down")
    assert proxy.wait(timeout=10) is not None
    found = leftovers(netns)
    assert found == {key: [] for key in found}
    for pid, starttime in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        assert stat[19] != starttime, f"node PID {pid} still runs"
    again = nodes("down")
    assert "nothing was up" in again.stdout


def test_deps_name_the_debian_packages():
    out = nodes("deps").stdout
    assert out.split() == sorted(out.split())
    assert {"openssh-server", "socat", "iproute2", "util-linux"} <= set(out.split())
    assert out.count("\n") == 1


def test_a_missing_program_is_reported_with_its_package(monkeypatch):
    import nodes as testbed  # noqa: PLC0415 - tools/ is on sys.path (tests/conftest.py)

    monkeypatch.setitem(testbed.PREREQUISITES, "kf-no-such-program", "kf-some-package")
    with pytest.raises(testbed.NodesError, match=r"kf-no-such-program \(Debian package kf-some-package\)"):
        testbed.check_prerequisites()
