#!/usr/bin/env python3
"""The benchmark of record (`make bench`): kubeforge.cluster against its peers, side by side in one run on the
embedded cluster, printed as one table of ratios.

Every figure is a one-task playbook run by the same ansible-playbook (bench/.venv: ansible, which carries
kubernetes.core), so Ansible's own start-up is on both sides; the `ping` playbook measures that start-up. Runs are
interleaved in pairs (the order alternating), and each ratio is the median of the pairs' ratios with their
min-max. Requests come from the API server's audit log (the admin user's reads and writes); the peak memory of
the task's process (the module, and what it runs) from GNU time wrapped around the module's interpreter. Rows
are printed as they are measured, and the whole table at the end.

    bench.py [--pairs N] [--sizes 3,30,100,300] [--quick]

P1  no-op converge: cni_config with nothing to change, against kubernetes.core.k8s (state present) applying the
    same live objects, and against the ping playbook (the floor).
P2  install, wait false: cni_config against `kubectl apply --server-side` of the same patched objects.
P3  Flannel vxlan <-> host-gw switch, with N kwok nodes, against the floor: `kubectl delete pods -l app=flannel`
    followed by `kubectl rollout status` of the DaemonSet.
N1-N3  on real nodes (bench/real_nodes.py): no-op site.yml against facts and a ping, the first site.yml against
    kubeadm init and join by hand, adding a node.
It measures time, not a verdict: it never fails because a machine is slow.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "bench"))
from localcluster import ClusterSpec, LocalCluster, Ports  # noqa: E402
from real_nodes import RealNodes  # noqa: E402

BENCH_BIN = REPO / "bench" / ".venv" / "bin"
UPSTREAM = Path(os.environ.get("KUBEFORGE_UPSTREAM", REPO.parent / "shared" / "upstream"))
ADMIN = "kubernetes-admin"
READS = ("get", "list", "watch")
# Server-set fields: what `kubectl get` returns and an apply must not carry.
VOLATILE = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


HEADER = ["case", "kubeforge", "peer", "ratio", "module's own", "reads/writes", "peer reads/writes", "peak MB"]


class Bench:
    def __init__(self, pairs: int, workdir: Path, cluster: LocalCluster, port_offset: int = 0):
        self.pairs = pairs
        self.workdir = workdir
        self.cluster = cluster
        defaults = Ports()
        self.ports = Ports(**{name: port + port_offset for name, port in vars(defaults).items()})
        self.rows: list[list[str]] = []
        self.objects: dict[str, Path] = {}  # per CNI, its objects as cni_config installed them (P1)
        self.peak_file = workdir / "peak"
        self.interpreter = self.measuring_interpreter()

    def measuring_interpreter(self) -> Path:
        """The modules' Python under GNU time, which appends the process's peak RSS (KB) and wall time to
        peak_file; the bare Python where there is no GNU time (the memory column is then empty)."""
        python = BENCH_BIN / "python"
        if not os.access("/usr/bin/time", os.X_OK):
            return python
        wrapper = self.workdir / "python"
        wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/time -f "%M %e" -a -o {self.peak_file} {python} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    def add(self, row: list[str]) -> None:
        """A row of the table, printed at once (the table comes again, aligned, at the end)."""
        self.rows.append(row)
        print("  ".join(cell for cell in row if cell), flush=True)

    # -- running things ---------------------------------------------------------------------------
    @property
    def kubectl(self) -> list[str]:
        return [self.cluster.binary("kubectl"), "--kubeconfig", str(self.cluster.kubeconfig)]

    def playbook(self, name: str, task: dict) -> Path:
        path = self.workdir / f"{name}.yml"
        play = [{"name": name, "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [task]}]
        path.write_text(yaml.safe_dump(play, sort_keys=False))
        return path

    def run(self, playbook: Path) -> dict:
        """Wall time and the admin's API requests of one ansible-playbook run."""
        env = dict(
            os.environ,
            PATH=f"{BENCH_BIN}{os.pathsep}{os.environ['PATH']}",
            ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
            ANSIBLE_PYTHON_INTERPRETER=str(self.interpreter),
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        )
        log = self.cluster.logs / "audit.log"
        offset = log.stat().st_size
        self.peak_file.unlink(missing_ok=True)
        started = time.monotonic()
        done = subprocess.run(
            [str(BENCH_BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.workdir,
            check=False,
        )
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"{playbook.name} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
        time.sleep(1)  # the audit log is written asynchronously
        reads = writes = 0
        busy = {"api": 0.0, "watch": 0.0}  # seconds the server spent answering, and watching
        with log.open() as handle:
            handle.seek(offset)
            for line in handle:
                event = json.loads(line)
                # A watch is logged when its answer starts and when it ends: counted once, when complete.
                if event["user"]["username"] != ADMIN or event["stage"] != "ResponseComplete":
                    continue
                if event["verb"] in READS:
                    reads += 1
                else:
                    writes += 1
                took = timestamp(event["stageTimestamp"]) - timestamp(event["requestReceivedTimestamp"])
                busy["watch" if event["verb"] == "watch" else "api"] += took
        lines = self.peak_file.read_text().splitlines() if self.peak_file.exists() else []
        processes = [line.split() for line in lines if len(line.split()) == 2]
        return {
            "seconds": seconds,
            "reads": reads,
            "writes": writes,
            "peak": max(int(kb) for kb, _s in processes) / 1024 if processes else None,
            "process": sum(float(s) for _kb, s in processes) if processes else None,
            **busy,
        }

    def pairs_of(self, left: Path, right: Path, between=None) -> tuple[list[dict], list[dict]]:
        """Interleaved runs, the order alternating; between(i) runs before each pair (not measured)."""
        lefts, rights = [], []
        for index in range(self.pairs):
            order = (left, right) if index % 2 == 0 else (right, left)
            for playbook in order:
                if between:
                    between(index, playbook is left)
                (lefts if playbook is left else rights).append(self.run(playbook))
        return lefts, rights

    # -- reporting --------------------------------------------------------------------------------
    def row(self, case: str, ours: list[dict], theirs: list[dict], peer: str, floor: list[dict] | None = None):
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(ours, theirs, strict=True)]
        own = ""
        if floor:
            own = f"{median(ours) - median(floor):.2f} s"
        self.add(
            [
                case,
                spread(ours),
                f"{peer} {spread(theirs)}",
                f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
                own,
                requests(ours),
                requests(theirs),
                f"{peak(ours)} / {peak(theirs)}",
            ]
        )

    def table(self) -> str:
        header = HEADER
        rows = [row + [""] * (len(header) - len(row)) for row in self.rows]
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        lines = [
            " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in [header, *rows]
        ]
        lines.insert(1, "-+-".join("-" * width for width in widths))
        return "\n".join(lines)

    # -- the cases --------------------------------------------------------------------------------
    def cni_config(self, name: str, **args) -> Path:
        args.setdefault("manifest_mirror", str(UPSTREAM))
        args["kubeconfig"] = str(self.cluster.kubeconfig)
        return self.playbook(name, {"name": "cni_config", "kubeforge.cluster.cni_config": args})

    def live_objects(self, cni: str) -> Path:
        """The objects of the CNI's manifest as they are live now, without server-set fields."""
        from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (  # noqa: PLC0415
            mirror_path,
        )
        from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import (  # noqa: PLC0415
            load_documents,
            object_key,
        )

        version = {"flannel": "v0.28.9", "calico": "v3.32.1"}[cni]
        objects = load_documents((UPSTREAM / mirror_path(cni, version)).read_text())
        live = []
        for obj in objects:
            api_version, kind, namespace, name = object_key(obj)
            args = ["get", kind.lower() + "." + api_version.split("/")[0] if "/" in api_version else kind.lower(), name]
            got = subprocess.run(
                [*self.kubectl, *args, *(["-n", namespace] if namespace else []), "-o", "json"],
                capture_output=True,
                text=True,
                check=True,
            )
            current = json.loads(got.stdout)
            current.pop("status", None)
            for key in VOLATILE:
                current["metadata"].pop(key, None)
            current["metadata"].get("annotations", {}).pop("deprecated.daemonset.template.generation", None)
            live.append(current)
        path = self.workdir / f"{cni}-objects.yaml"
        path.write_text(yaml.safe_dump_all(live))
        return path

    def p1_noop(self, cni: str, ping: Path) -> None:
        self.fresh(ClusterSpec(pod_cidr=pod_cidr(cni)))
        self.run(self.cni_config(f"install-{cni}", cni=cni))
        noop = self.cni_config(f"noop-{cni}", cni=cni)
        objects = self.objects[cni] = self.live_objects(cni)
        k8s = self.playbook(
            f"k8s-{cni}",
            {
                "name": "kubernetes.core.k8s",
                "kubernetes.core.k8s": {
                    "state": "present",
                    "src": str(objects),
                    "kubeconfig": str(self.cluster.kubeconfig),
                },
            },
        )
        ours, theirs = self.pairs_of(noop, k8s)
        floor = [self.run(ping) for _ in range(self.pairs)]
        count = len(list(yaml.safe_load_all(objects.read_text())))
        self.row(f"P1 no-op {cni} ({count} objects)", ours, theirs, "kubernetes.core.k8s", floor)
        self.add(
            [
                f"P1 no-op {cni} vs ping",
                spread(ours),
                f"ping {spread(floor)}",
                f"{median(ours) / median(floor):.2f}",
                "",
                requests(ours),
                requests(floor),
                f"{peak(ours)} / {peak(floor)}",
            ]
        )

    def p2_install(self, cni: str) -> None:
        spec = ClusterSpec(pod_cidr=pod_cidr(cni))
        install = self.cni_config(f"install-nowait-{cni}", cni=cni, wait=False)
        objects = self.objects[cni]  # what P1's install left: the same patched objects
        kubectl = self.playbook(
            f"kubectl-apply-{cni}",
            {
                "name": "kubectl apply",
                "ansible.builtin.command": {
                    "argv": [*self.kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(objects)]
                },
            },
        )
        ours, theirs = self.pairs_of(install, kubectl, between=lambda _i, _left: self.fresh(spec))
        self.row(f"P2 install {cni}, wait false", ours, theirs, "kubectl apply --server-side")

    def p3_switch(self, nodes: int, ping: Path) -> tuple[float, float]:
        self.fresh(ClusterSpec(pod_cidr="10.128.0.0/12", nodes=nodes))
        self.run(self.cni_config("install-flannel", cni="flannel"))
        to_host_gw = self.cni_config(f"switch-host-gw-{nodes}", cni="flannel", backend="host-gw")
        to_vxlan = self.cni_config(f"switch-vxlan-{nodes}", cni="flannel", backend="vxlan")
        floor = self.playbook(
            f"floor-{nodes}",
            {
                "name": "restart flannel",
                "ansible.builtin.shell": " ".join(self.kubectl)
                + " -n kube-flannel delete pods -l app=flannel >/dev/null && "
                + " ".join(self.kubectl)
                + " -n kube-flannel rollout status daemonset/kube-flannel-ds --timeout=600s",
            },
        )
        ours, theirs = [], []
        for index in range(self.pairs):
            order = ["ours", "floor", "ours", "floor"]
            if index % 2:
                order = order[1:] + order[:1]
            for side in order:
                if side == "floor":
                    theirs.append(self.run(floor))
                    continue
                # To the other backend each time, whatever the order: every run of ours is a switch.
                run = self.run((to_host_gw, to_vxlan)[len(ours) % 2])
                if run["writes"] == 0:
                    raise SystemExit(f"a P3 switch with {nodes} nodes wrote nothing: it measured a no-op")
                ours.append(run)
        startup = median([self.run(ping) for _ in range(self.pairs)])
        self.row(f"P3 switch, {nodes} nodes", ours, theirs, "delete + rollout status")
        calls = statistics.median(r["reads"] + r["writes"] for r in ours)
        api, watch = (statistics.median(r[kind] for r in ours) for kind in ("api", "watch"))
        processes = [r["process"] for r in ours if r["process"] is not None]
        if processes:
            # Measured in our own runs: the module's process (GNU time), the server's answers and its watches
            # (the audit log: the module waits for the DaemonSet controller in watches).
            process = statistics.median(processes)
            where = (
                f"Ansible {median(ours) - process:.2f} s, the module's process {process:.2f} s ({calls:.0f} requests):"
                f" waiting for the DaemonSet controller in watches {watch:.2f} s, the other requests {api:.2f} s,"
                f" its own work {max(0.0, process - watch - api):.2f} s"
            )
        else:
            wait = max(0.0, median(theirs) - startup)  # the floor is start-up plus the controller
            where = (
                f"start-up {startup:.2f} s, DaemonSet controller {wait:.2f} s,"
                f" the rest {median(ours) - startup - wait:.2f} s ({calls:.0f} requests)"
            )
        self.add(
            [
                f"P3 {nodes} nodes: where it goes",
                "",
                "",
                "",
                where,
                "",
                "",
            ]
        )
        return median(ours), median(theirs)

    def fresh(self, spec: ClusterSpec) -> None:
        spec.ports = self.ports
        self.cluster.down()
        self.cluster.up(spec)


def pod_cidr(cni: str) -> str:
    return "192.168.0.0/16" if cni == "calico" else "10.244.0.0/16"


def timestamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def median(runs: list[dict]) -> float:
    return statistics.median(r["seconds"] for r in runs)


def spread(runs: list[dict]) -> str:
    seconds = [r["seconds"] for r in runs]
    return f"{statistics.median(seconds):.2f} s ({min(seconds):.2f}-{max(seconds):.2f})"


def peak(runs: list[dict]) -> str:
    peaks = [r["peak"] for r in runs if r["peak"] is not None]
    return f"{statistics.median(peaks):.0f}" if peaks else "-"


def requests(runs: list[dict]) -> str:
    reads, writes = (statistics.median(r[kind] for r in runs) for kind in ("reads", "writes"))
    return f"{reads:.0f}/{writes:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--sizes", default="3,30,100,300")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one pair, P2 Flannel only, P3 with 3 nodes, N1 and N2's first row: the script runs",
    )
    parser.add_argument(
        "--state-dir", type=Path, help="the benchmark cluster's directory (default: one in its temporary directory)"
    )
    parser.add_argument(
        "--port-offset", type=int, default=0, help="added to the embedded cluster's ports: to run beside it"
    )
    parser.add_argument(
        "--cases",
        help="which of P1, P2 (takes P1's objects), P3, N (real nodes) to measure (default: all; --quick: the Ps)",
    )
    options = parser.parse_args()
    # N brings up real nodes of its own (minutes): --quick, which CI runs, takes it only when asked.
    cases = set((options.cases or ("P1,P2,P3" if options.quick else "P1,P2,P3,N")).split(","))
    if cases - {"P1", "P2", "P3", "N"} or ("P2" in cases and "P1" not in cases):
        parser.error("--cases takes P1, P2, P3 and N, separated by commas; P2 applies P1's objects and needs P1")
    pairs, sizes = (1, [3]) if options.quick else (options.pairs, [int(n) for n in options.sizes.split(",")])
    sys.path.insert(0, str(REPO / ".collections"))
    if options.port_offset == 0 and LocalCluster().is_healthy():
        raise SystemExit(
            "the embedded cluster is up on the ports the benchmark's own cluster takes: run `make cluster-down`, "
            "or pass --port-offset (e.g. BENCH_ARGS='--quick --port-offset 100')"
        )
    # Stopped (Ctrl-C, even when started in the background, or kill), it still stops its cluster (`finally`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="kubeforge-bench.") as workdir:
        # A directory of its own: between cases the benchmark stops its cluster by the pid files there, and so
        # never stops another one.
        cluster = LocalCluster(options.state_dir or Path(workdir) / "cluster")
        if cluster.is_healthy():
            raise SystemExit(f"a cluster is up in {cluster.state_dir}; the benchmark starts its own")
        bench = Bench(pairs, Path(workdir), cluster, options.port_offset)
        try:
            ping = bench.playbook("ping", {"name": "ping", "ansible.builtin.ping": {}})
            for cni in ("calico", "flannel") if "P1" in cases else ():
                bench.p1_noop(cni, ping)
            # Each P2 run starts on a new cluster: quick mode installs one CNI only.
            for cni in () if "P2" not in cases else ("flannel",) if options.quick else ("calico", "flannel"):
                bench.p2_install(cni)
            switch = {nodes: bench.p3_switch(nodes, ping) for nodes in sizes} if "P3" in cases else {}
        finally:
            bench.cluster.down()
        if "N" in cases:
            (Path(workdir) / "nodes").mkdir()
            RealNodes(Path(workdir) / "nodes", bench.add).measure(pairs, quick=options.quick)
        if len(switch) > 1:
            small, large = switch[min(sizes)], switch[max(sizes)]
            bench.add(
                [
                    f"P3 T({max(sizes)})/T({min(sizes)})",
                    f"{large[0] / small[0]:.2f}",
                    f"floor {large[1] / small[1]:.2f}",
                    "",
                    "",
                    "",
                    "",
                ]
            )
        print(f"\nkubeforge.cluster benchmark, {pairs} interleaved pair(s) each, medians (min-max):\n")
        print(bench.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
