"""Run the collection's modules the way a playbook does, and read what the API server was asked to write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def run_module(module: str, args: dict, kubeconfig: Path, check: bool = False, diff: bool = False) -> dict:
    """The module's result as a playbook task would register it."""
    with tempfile.TemporaryDirectory() as tree:
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            KUBECONFIG=str(kubeconfig),
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        )
        argv = [
            str(VENV_BIN / "ansible"),
            "localhost",
            "-m",
            f"kubeforge.cluster.{module}",
            "-a",
            json.dumps(args),
            "--tree",
            tree,
        ]
        argv += ["--check"] * check + ["--diff"] * diff
        completed = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)
        result_file = Path(tree) / "localhost"
        if not result_file.exists():
            raise AssertionError(f"ansible wrote no result:\n{completed.stdout}\n{completed.stderr}")
        result = json.loads(result_file.read_text())
    # The tree callback leaves out `failed` and the diff: take them from the run itself.
    result["failed"] = result.get("failed", False) or completed.returncode != 0
    result["stdout_of_run"] = completed.stdout
    result["stderr_of_run"] = completed.stderr  # warnings
    return result


WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


class AuditLog:
    """The API server's audit log of write requests (tools/localcluster.py writes it)."""

    USER = "kubernetes-admin"  # admin.conf's user: the modules and kubectl in the tests

    def __init__(self, path: Path, kubectl):
        self.path = path
        self.kubectl = kubectl

    def offset(self) -> int:
        return self.path.stat().st_size

    def writes_since(self, offset: int) -> list[dict]:
        """Write requests (not dry runs) of the admin user since offset; a marker write proves the log
        has caught up, so an empty answer is not just a late log."""
        marker = uuid.uuid4().hex
        self.kubectl.run("annotate", "--overwrite", "namespace", "default", f"kubeforge.io/audit-marker={marker}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self.path.open() as log:
                log.seek(offset)
                events = [json.loads(line) for line in log if line.strip()]
            ours = [e for e in events if e["user"]["username"] == self.USER and e["verb"] in WRITE_VERBS]
            for index, event in enumerate(ours):
                ref = event["objectRef"]
                if event["verb"] == "patch" and ref.get("resource") == "namespaces" and ref.get("name") == "default":
                    return [e for e in ours[:index] if "dryRun" not in e["requestURI"]]
            time.sleep(0.2)
        raise AssertionError("the audit marker never reached the audit log")


def describe_writes(events: list[dict]) -> list[str]:
    return [f"{e['verb']} {e['objectRef'].get('resource')}/{e['objectRef'].get('name')}" for e in events]
