"""The real-node test bed (tools/nodes.py) as the tests see it: playbooks run against its inventories, and
testinfra hosts that reach each node over SSH exactly as Ansible does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import testinfra

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NODES_STATE = REPO / ".nodes"
CONTROL_PLANE = "kf-node-1"
ADMIN = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
# testinfra's ansible backend runs ansible-inventory and reads ansible.cfg the way the playbooks do.
os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
TASK_HEADER = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass
class Run:
    rc: int
    output: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return {
            host: {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable), "failed": int(failed)}
            for host, ok, changed, unreachable, failed in RECAP.findall(self.output)
        }

    @property
    def changed(self) -> int:
        """Changed tasks over all hosts; -1 when the run printed no recap."""
        recap = self.recap
        return sum(host["changed"] for host in recap.values()) if recap else -1

    @property
    def changed_tasks(self) -> set[tuple[str, str]]:
        """(task name without its role, host) of every task or handler that reported changed."""
        changed, task = set(), ""
        for line in self.output.splitlines():
            header = TASK_HEADER.match(line)
            if header:
                task = header.group(1).split(" : ", 1)[-1]
            elif line.startswith("changed: ["):
                changed.add((task, line[len("changed: [") :].split("]", 1)[0]))
        return changed

    def tail(self, chars: int = 4000) -> str:
        return self.output[-chars:]


def playbook(*args: str, inventory: str = "nodes", env: dict | None = None) -> Run:
    environment = dict(
        os.environ,
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        **(env or {}),
    )
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(REPO / "inventories" / inventory), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        check=False,
    )
    return Run(completed.returncode, completed.stdout + completed.stderr)


def testbed_state() -> dict:
    path = NODES_STATE / "testbed.json"
    if not path.exists():
        raise AssertionError(f"{path} is missing: the nodes are not up (make nodes-up NODES=3)")
    return json.loads(path.read_text())


def node_host(name: str):
    """A testinfra host for a node, through the nodes inventory (SSH via the test bed's namespace)."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=str(REPO / "inventories" / "nodes"))


def nodes_cmd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "nodes.py"), *args], check=False, capture_output=True, text=True
    )


def kubectl_json(host, *args: str) -> dict:
    result = host.run(f"{ADMIN} {' '.join(args)} -o json")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


testbed_state.__test__ = False  # pytest would collect it wherever a test module imports it
