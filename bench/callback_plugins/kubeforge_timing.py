"""Where a playbook's time goes: wall time per play and per task, and the changed tasks per host (the recap's
figure), written as JSON for bench/real_nodes.py.

Enabled by the benchmark only (ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins, ANSIBLE_CALLBACKS_ENABLED=
kubeforge_timing); it writes to $KUBEFORGE_TIMING_FILE and prints nothing.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: kubeforge_timing
type: aggregate
short_description: Wall time per play and per task, and changed per host, as JSON
description:
  - Writes the plays and tasks with their wall time, and each host's changed count, to the file in
    KUBEFORGE_TIMING_FILE.
options: {}
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "kubeforge_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.started = time.monotonic()
        self.plays: list[dict] = []
        self.task: dict | None = None

    def _close_task(self, now: float) -> None:
        if self.task is not None:
            self.task["seconds"] = round(now - self.task.pop("_start"), 3)
            self.task = None

    def _close_play(self, now: float) -> None:
        self._close_task(now)
        if self.plays and "seconds" not in self.plays[-1]:
            self.plays[-1]["seconds"] = round(now - self.plays[-1].pop("_start"), 3)

    def v2_playbook_on_play_start(self, play):
        now = time.monotonic()
        self._close_play(now)
        self.plays.append({"name": play.get_name(), "_start": now, "tasks": []})

    def _start_task(self, task, kind: str) -> None:
        now = time.monotonic()
        self._close_task(now)
        self.task = {"name": task.get_name(), "action": task.action, "kind": kind, "_start": now, "hosts": 0}
        self.plays[-1]["tasks"].append(self.task)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start_task(task, "task")

    def v2_playbook_on_handler_task_start(self, task):
        self._start_task(task, "handler")

    def _count(self, result, status: str) -> None:
        if self.task is not None:
            self.task["hosts"] += 1
            self.task.setdefault("status", {}).setdefault(status, 0)
            self.task["status"][status] += 1

    def v2_runner_on_ok(self, result):
        self._count(result, "ok")

    def v2_runner_on_skipped(self, result):
        self._count(result, "skipped")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result, "failed")

    def v2_playbook_on_stats(self, stats):
        now = time.monotonic()
        self._close_play(now)
        path = os.environ.get("KUBEFORGE_TIMING_FILE")
        if path:
            changed = {host: stats.summarize(host)["changed"] for host in sorted(stats.processed)}
            with open(path, "w", encoding="utf-8") as out:
                json.dump(
                    {"seconds": round(now - self.started, 3), "plays": self.plays, "changed": changed}, out, indent=1
                )
