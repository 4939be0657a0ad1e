"""The benchmark's rows on real nodes (tools/nodes.py: systemd, containerd and the kubelet in namespaces), measured
side by side in one run, as a user runs the playbooks:

N1  no-op site.yml on 3 nodes against the floor: a playbook on the same hosts that gathers facts and pings,
    interleaved in pairs; with the task count and where the no-op's time goes, per play.
N2  site.yml on 3 fresh nodes against the floor of a bootstrap: `kubeadm init` with the configuration site.yml
    wrote and `kubeadm join` of the two workers (in parallel), run by hand on the same nodes after `kubeadm reset`.
    The floor's nodes have the binaries and images already; site.yml's first run installs them and the CNI too,
    so N2 also runs site.yml on the same installed nodes after another reset: the collection's own bootstrap.
N3  a fourth node added to the inventory: site.yml on all four (the three others must report changed=0).

The timing callback (bench/callback_plugins/kubeforge_timing.py) gives the time per play.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
NODES = ["kf-node-1", "kf-node-2", "kf-node-3"]
ADDED = "kf-node-4"
FLOOR = [
    {
        "name": "Floor: facts and a ping",
        "hosts": "control_plane:workers",
        "tasks": [{"name": "Ping", "ansible.builtin.ping": {}}],
    }
]


class RealNodes:
    def __init__(self, workdir: Path, add):
        self.workdir = workdir
        self.add = add  # Bench.add: one row of the table
        self.nodes = [*NODES, ADDED]  # the nodes that are up
        self.timing = workdir / "timing.json"
        (workdir / "floor.yml").write_text(json.dumps(FLOOR))
        self.four = workdir / "four"
        self.four.mkdir()
        (self.four / "group_vars").symlink_to(REPO / "inventories" / "nodes" / "group_vars")
        hosts = {name: {"ansible_host": f"198.18.0.{11 + i}"} for i, name in enumerate([*NODES, ADDED])}
        inventory = {
            "all": {
                "children": {
                    "control_plane": {"hosts": {NODES[0]: hosts[NODES[0]]}},
                    "workers": {"hosts": {n: hosts[n] for n in [*NODES[1:], ADDED]}},
                }
            }
        }
        (self.four / "hosts.yml").write_text(json.dumps(inventory))

    # -- running things ---------------------------------------------------------------------------
    def make(self, *targets: str) -> None:
        done = subprocess.run(["make", "-s", *targets], cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"make {' '.join(targets)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def playbook(self, playbook: str, inventory: Path | None = None) -> dict:
        env = dict(
            os.environ,
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_CALLBACK_PLUGINS=str(REPO / "bench" / "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="kubeforge_timing",
            KUBEFORGE_TIMING_FILE=str(self.timing),
            KUBEFORGE_REPO=str(REPO),
        )
        self.timing.unlink(missing_ok=True)
        started = time.monotonic()
        done = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory or REPO / "inventories" / "nodes"), playbook],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"{playbook} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
        timing = json.loads(self.timing.read_text())
        tasks = sum(len(play["tasks"]) for play in timing["plays"])
        return {"seconds": seconds, "plays": timing["plays"], "tasks": tasks, "changed": timing["changed"]}

    @staticmethod
    def on_node(name: str, command: str) -> list[str]:
        return [str(VENV_BIN / "python"), "tools/nodes.py", "exec", name, "bash", "-c", command]

    def node(self, name: str, command: str, check: bool = True) -> str:
        done = subprocess.run(
            self.on_node(name, command),
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise SystemExit(f"{name}: {command} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    # -- the cases ------------------------------------------------------------------------------
    def n1_noop(self, pairs: int) -> None:
        ours, floor = [], []
        for pair in range(pairs):
            for which in ("site", "floor") if pair % 2 == 0 else ("floor", "site"):
                if which == "site":
                    ours.append(self.playbook("site.yml"))
                else:
                    floor.append(self.playbook(str(self.workdir / "floor.yml")))
        changed = sum(sum(run["changed"].values()) for run in ours)
        ratios = [o["seconds"] / f["seconds"] for o, f in zip(ours, floor, strict=True)]
        self.add(
            [
                "N1 no-op site.yml, 3 real nodes",
                f"{statistics.median(run['seconds'] for run in ours):.1f}s",
                f"floor {statistics.median(run['seconds'] for run in floor):.1f}s",
                f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
                f"{ours[-1]['tasks']} tasks, changed={changed}",
                "",
                "",
                "",
            ]
        )
        self.breakdown("N1", ours[-1])

    def reset(self) -> None:
        """kubeadm reset on every node, and what Flannel left there, as a user undoes a bootstrap by hand."""
        for name in self.nodes:
            self.node(
                name,
                # What kubeadm reset leaves of the pod network: the CNI configuration, Flannel's subnet lease,
                # host-local's addresses and the devices, as a fresh node has none of them.
                "kubeadm reset --force >/dev/null 2>&1; rm -rf /etc/cni/net.d/* /run/flannel /var/lib/cni; "
                "ip link del flannel.1 2>/dev/null; ip link del cni0 2>/dev/null; true",
            )

    def n2_bootstrap(self, first: dict, after_reset: bool = True) -> None:
        """The hand-run floor on the nodes site.yml bootstrapped: reset, then kubeadm init and join; then site.yml
        on the same installed nodes, reset again: the collection's own bootstrap without the install."""
        preflight = "--ignore-preflight-errors=SystemVerification"
        self.reset()
        started = time.monotonic()
        self.node(NODES[0], f"kubeadm init --config /etc/kubernetes/kubeforge/kubeadm.yaml {preflight} >/dev/null 2>&1")
        join = self.node(NODES[0], "kubeadm token create --print-join-command").strip()
        workers = [
            subprocess.Popen(
                self.on_node(name, f"{join} {preflight}"),
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in NODES[1:]
        ]
        for worker in workers:
            _out, errors = worker.communicate()
            if worker.returncode != 0:
                raise SystemExit(f"kubeadm join by hand failed:\n{errors[-2000:]}")
        hand = time.monotonic() - started
        self.add(
            [
                "N2 first site.yml, 3 fresh nodes",
                f"{first['seconds']:.1f}s",
                f"kubeadm by hand {hand:.1f}s",
                f"{first['seconds'] / hand:.2f}",
                f"{first['tasks']} tasks",
                "",
                "",
                "",
            ]
        )
        self.breakdown("N2", first)
        if not after_reset:
            return
        self.reset()
        installed = self.playbook("site.yml")
        self.add(
            [
                "N2 site.yml after kubeadm reset",
                f"{installed['seconds']:.1f}s",
                f"kubeadm by hand {hand:.1f}s",
                f"{installed['seconds'] / hand:.2f}",
                "init, join, the CNI and its verification",
                "",
                "",
                "",
            ]
        )
        self.breakdown("N2 after reset", installed)

    def n3_add_node(self) -> None:
        run = self.playbook("site.yml", self.four)
        others = {name: run["changed"].get(name) for name in NODES}
        self.add(
            [
                "N3 add a 4th node (site.yml)",
                f"{run['seconds']:.1f}s",
                "",
                "",
                f"changed: {ADDED} {run['changed'].get(ADDED)}, others {sum(v or 0 for v in others.values())}",
                "",
                "",
                "",
            ]
        )

    def breakdown(self, case: str, run: dict) -> None:
        print(
            f"  {case} per play: "
            + "; ".join(f"{play['name']} {play['seconds']:.1f}s/{len(play['tasks'])} tasks" for play in run["plays"]),
            flush=True,
        )

    def measure(self, pairs: int, quick: bool = False) -> None:
        """N1, N3 and N2; quick (CI: the code runs, the figures are `make bench`'s): three nodes, N1 and N2's
        first row only, the rows whose bring-up every other row needs."""
        if (REPO / ".nodes" / "testbed.json").exists() and subprocess.run(
            [str(VENV_BIN / "python"), "tools/nodes.py", "status"], cwd=REPO, capture_output=True, check=False
        ).returncode == 0:
            raise SystemExit("test-bed nodes are up: the benchmark brings up its own (make nodes-down first)")
        try:
            # The fourth idles until N3 adds it: tools/nodes.py brings nodes up together.
            self.nodes = NODES if quick else [*NODES, ADDED]
            self.make("nodes-up", f"NODES={len(self.nodes)}")
            first = self.playbook("site.yml")
            self.n1_noop(pairs)
            if not quick:
                self.n3_add_node()
            self.n2_bootstrap(first, after_reset=not quick)
        finally:
            self.make("nodes-down")
