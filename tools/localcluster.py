#!/usr/bin/env python3
"""The embedded local cluster: a real control plane on 127.0.0.1 with kwok's fake nodes.

etcd, kube-apiserver, kube-controller-manager (allocating node podCIDRs from the pod CIDR, as
kubeadm configures it), kube-scheduler and kwok run as plain processes built by tools/build.sh.
The PKI and kubeconfigs come from kubeadm's own phases, so the cluster is what kubeadm would make.

    localcluster.py up [--pod-cidr CIDR] [--nodes N]
    localcluster.py down
    localcluster.py status

State lives in .localcluster/ (git-ignored); `down` stops exactly the PIDs that `up` recorded.
Only the standard library is used, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO / ".localcluster"
DEFAULT_POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
CONTROL_PLANE_NODE = "kf-control-plane"
KUBEADM_NETWORK_FLAGS = (
    "allocate-node-cidrs",
    "cluster-cidr",
    "service-cluster-ip-range",
    "node-cidr-mask-size",
    "node-cidr-mask-size-ipv4",
    "node-cidr-mask-size-ipv6",
)
START_TIMEOUT = 120


class ClusterError(Exception):
    """A failure the user can act on; the message names the component and its log."""


@dataclass
class Ports:
    etcd_client: int = 23790
    etcd_peer: int = 23800
    apiserver: int = 16443
    controller_manager: int = 10257
    scheduler: int = 10259


@dataclass
class ClusterSpec:
    pod_cidr: str = DEFAULT_POD_CIDR
    nodes: int = 3
    ports: Ports = field(default_factory=Ports)

    @classmethod
    def from_dict(cls, data: dict) -> ClusterSpec:
        return cls(pod_cidr=data["pod_cidr"], nodes=data["nodes"], ports=Ports(**data["ports"]))


def node_names(count: int) -> list[str]:
    return [CONTROL_PLANE_NODE] + [f"kf-worker-{i}" for i in range(1, count)]


def node_address(index: int) -> str:
    """A TEST-NET address (RFC 5737: data only, never dialled), 240 to each of the three nets."""
    net = ("192.0.2", "198.51.100", "203.0.113")[index // 240]
    return f"{net}.{10 + index % 240}"


def pod_networks(pod_cidr: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """POD_CIDR: an IPv4 network, or an IPv4 and an IPv6 one (dual stack), comma-separated as kubeadm's podSubnet."""
    try:
        return [ipaddress.ip_network(part.strip(), strict=True) for part in pod_cidr.split(",")]
    except ValueError as exc:
        raise ClusterError(
            f"POD_CIDR={pod_cidr!r} is not a network CIDR ({exc}); e.g. 10.244.0.0/16 or 10.244.0.0/16,fd00:10:244::/56"
        ) from exc


def validate_spec(spec: ClusterSpec) -> None:
    networks = pod_networks(spec.pod_cidr)
    network = networks[0]
    if network.version != 4 or network.prefixlen > 22:
        raise ClusterError(f"POD_CIDR={spec.pod_cidr} must be IPv4 and /22 or larger: each node gets a /24 from it")
    ipv6 = networks[1:]
    if len(networks) > 2 or (ipv6 and (ipv6[0].version != 6 or not 48 <= ipv6[0].prefixlen <= 64)):
        raise ClusterError(
            f"POD_CIDR={spec.pod_cidr}: a second network must be IPv6, /48 to /64 (each node gets a /64 of it)"
        )
    if ipv6 and 2 ** (64 - ipv6[0].prefixlen) < spec.nodes:
        raise ClusterError(f"NODES={spec.nodes} do not fit into the /64s of {ipv6[0]}")
    if network.overlaps(ipaddress.ip_network(SERVICE_CIDR)):
        raise ClusterError(f"POD_CIDR={spec.pod_cidr} overlaps the service CIDR {SERVICE_CIDR}")
    if not 1 <= spec.nodes <= min(2 ** (24 - network.prefixlen), 720):
        raise ClusterError(
            f"NODES={spec.nodes} must be between 1 and the number of /24s in {spec.pod_cidr}, at most 720"
        )


class LocalCluster:
    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, bin_dir: Path | None = None):
        self.state_dir = Path(state_dir)
        self._bin_dir = bin_dir
        self._procs: dict[str, subprocess.Popen] = {}

    # -- paths -------------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def pki(self) -> Path:
        """What `kubeadm init --dry-run` wrote: certificates, kubeconfigs and static pod manifests."""
        return self.state_dir / "kubeadm"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids(self) -> Path:
        return self.state_dir / "pids"

    @property
    def spec_file(self) -> Path:
        return self.state_dir / "cluster.json"

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            env_dir = os.environ.get("KUBEFORGE_BIN")
            if env_dir:
                self._bin_dir = Path(env_dir)
            else:
                result = subprocess.run(
                    [str(REPO / "tools" / "build.sh")], check=False, stdout=subprocess.PIPE, text=True
                )
                if result.returncode != 0:
                    raise ClusterError("tools/build.sh failed to build the control-plane binaries (see above)")
                self._bin_dir = Path(result.stdout.strip().splitlines()[-1])
        return self._bin_dir

    def binary(self, name: str) -> str:
        path = self.bin_dir / name
        if not os.access(path, os.X_OK):
            raise ClusterError(f"missing binary {path}: run tools/build.sh (or `make binaries`) to build {name}")
        return str(path)

    def running_spec(self) -> ClusterSpec | None:
        if not self.spec_file.exists():
            return None
        return ClusterSpec.from_dict(json.loads(self.spec_file.read_text()))

    # -- public operations -------------------------------------------------------------------
    def up(self, spec: ClusterSpec) -> bool:
        """Start the cluster; False when it was already up with this spec."""
        validate_spec(spec)
        current = self.running_spec()
        if current is not None and self.is_healthy():
            if (current.pod_cidr, current.nodes) != (spec.pod_cidr, spec.nodes):
                raise ClusterError(
                    f"the local cluster is already up with POD_CIDR={current.pod_cidr} NODES={current.nodes}; "
                    f"run `make cluster-down` first to start it with POD_CIDR={spec.pod_cidr} NODES={spec.nodes}"
                )
            return False
        if current is not None:
            # Half-started or crashed earlier: start over from a clean state.
            self.down()
        for name in (
            "kubeadm",
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
            "kubectl",
        ):
            self.binary(name)
        self._check_ports_free(spec.ports)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for sub in (self.logs, self.pids):
            sub.mkdir(exist_ok=True)
        self.spec_file.write_text(json.dumps(asdict(spec), indent=2))
        (self.state_dir / "bin-dir").write_text(str(self.bin_dir))
        self._procs = {}
        try:
            self._make_pki(spec)
            self._start_etcd(spec)
            self._start_apiserver(spec)
            self._bootstrap_admin()
            self._upload_kubeadm_config()
            self._start_controller_manager(spec)
            self._start_scheduler(spec)
            self._start_kwok()
            self._create_nodes(spec)
            self._wait_nodes(spec)
        except BaseException:
            self.down()
            raise
        return True

    def reset(self, spec: ClusterSpec | None = None) -> None:
        """Start over (with the same spec unless given): quicker and surer than deleting what tests
        installed (a CRD deleted right after its creation can hang in its finalizer)."""
        spec = spec or self.running_spec() or ClusterSpec()
        self.down()
        self.up(spec)

    def down(self) -> list[str]:
        stopped = []
        if self.pids.is_dir():
            for pid_file in sorted(self.pids.glob("*.pid"), reverse=True):
                name = pid_file.stem.split("-", 1)[1]
                if _stop_pid(int(pid_file.read_text()), self._expected_exe(name)):
                    stopped.append(name)
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        return stopped

    def restart_etcd(self, down_seconds: float = 3) -> None:
        """Stop etcd, leave the API server without it for down_seconds, start it on the same data (a fault the
        tests inject)."""
        spec = self.running_spec()
        if spec is None:
            raise ClusterError("the local cluster is not running")
        pid_file = self.pids / "1-etcd.pid"
        _stop_pid(int(pid_file.read_text()), self._expected_exe("etcd"))
        time.sleep(down_seconds)
        self._start_etcd(spec)

    def node_pod_cidrs(self) -> dict[str, str]:
        kubectl = [self.binary("kubectl"), "--kubeconfig", str(self.kubeconfig)]
        nodes = json.loads(self._run([*kubectl, "get", "nodes", "-o", "json"]))["items"]
        return {node["metadata"]["name"]: ",".join(node["spec"].get("podCIDRs") or []) or None for node in nodes}

    def is_healthy(self) -> bool:
        if not self.pids.is_dir():
            return False
        for pid_file in self.pids.glob("*.pid"):
            name = pid_file.stem.split("-", 1)[1]
            if not _pid_runs(int(pid_file.read_text()), self._expected_exe(name)):
                return False
        spec = self.running_spec()
        return spec is not None and self._probe(f"https://127.0.0.1:{spec.ports.apiserver}/readyz")

    # -- steps -------------------------------------------------------------------------------
    def _kubeadm_config(self, spec: ClusterSpec) -> Path:
        path = self.state_dir / "kubeadm.yaml"
        k8s_version = self._run([self.binary("kubeadm"), "version", "-o", "short"]).strip()
        path.write_text(
            f"""apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  # kubeadm refuses loopback here; a TEST-NET address is data only, the endpoint below is dialled.
  advertiseAddress: 192.0.2.1
  bindPort: {spec.ports.apiserver}
nodeRegistration:
  name: {CONTROL_PLANE_NODE}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: {k8s_version}
clusterName: kubeforge-local
certificatesDir: {self.pki}
controlPlaneEndpoint: 127.0.0.1:{spec.ports.apiserver}
apiServer:
  certSANs: [127.0.0.1, localhost]
networking:
  podSubnet: {spec.pod_cidr}
  serviceSubnet: {SERVICE_CIDR}
"""
        )
        return path

    def _make_pki(self, spec: ClusterSpec) -> None:
        # One real `kubeadm init --dry-run` writes the PKI, the kubeconfigs and the static pod manifests
        # kubeadm would deploy; the controller-manager below takes its network flags from that manifest.
        config = self._kubeadm_config(spec)
        env = dict(os.environ, KUBEADM_INIT_DRYRUN_DIR=str(self.pki))
        self._run(
            [self.binary("kubeadm"), "init", "--config", str(config), "--dry-run", "--ignore-preflight-errors=all"],
            env=env,
        )
        # kubeadm points the components' kubeconfigs at the advertise address; here they dial loopback.
        for conf in self.pki.glob("*.conf"):
            text = conf.read_text().replace("https://192.0.2.1:", "https://127.0.0.1:")
            conf.write_text(text)
            conf.chmod(0o600)

    def _start_etcd(self, spec: ClusterSpec) -> None:
        p = spec.ports
        self._spawn(
            "1-etcd",
            [
                self.binary("etcd"),
                "--name=local",
                f"--data-dir={self.state_dir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{p.etcd_client}",
                f"--advertise-client-urls=http://127.0.0.1:{p.etcd_client}",
                f"--listen-peer-urls=http://127.0.0.1:{p.etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{p.etcd_peer}",
                f"--initial-cluster=local=http://127.0.0.1:{p.etcd_peer}",
                "--listen-metrics-urls=",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait_http("1-etcd", f"http://127.0.0.1:{p.etcd_client}/health", b'"health":"true"')

    def _start_apiserver(self, spec: ClusterSpec) -> None:
        p = spec.ports
        self._spawn(
            "2-kube-apiserver",
            [
                self.binary("kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{p.etcd_client}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={p.apiserver}",
                # The loopback address may not be an endpoint of the `kubernetes` Service.
                "--endpoint-reconciler-type=none",
                f"--tls-cert-file={self.pki / 'apiserver.crt'}",
                f"--tls-private-key-file={self.pki / 'apiserver.key'}",
                f"--client-ca-file={self.pki / 'ca.crt'}",
                # As kubeadm sets them: controllers read the front-proxy CA from extension-apiserver-authentication.
                f"--requestheader-client-ca-file={self.pki / 'front-proxy-ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-username-headers=X-Remote-User",
                f"--proxy-client-cert-file={self.pki / 'front-proxy-client.crt'}",
                f"--proxy-client-key-file={self.pki / 'front-proxy-client.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={self.pki / 'sa.pub'}",
                f"--service-account-signing-key-file={self.pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                # The flannel and calico-node DaemonSets are privileged.
                "--allow-privileged=true",
                f"--audit-log-path={self.logs / 'audit.log'}",
                f"--audit-policy-file={self._audit_policy()}",
                "--audit-log-maxsize=200",
            ],
        )
        self._wait_http("2-kube-apiserver", f"https://127.0.0.1:{p.apiserver}/readyz", b"ok")

    def _audit_policy(self) -> Path:
        # Writes of everyone, and the admin's reads (the modules, kubectl, kubernetes.core in the benchmark), at
        # Metadata level: tests count write requests from this log, the benchmark requests of both kinds.
        path = self.state_dir / "audit-policy.yaml"
        path.write_text(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
            "- level: Metadata\n  verbs: [create, update, patch, delete, deletecollection]\n"
            "- level: Metadata\n  users: [kubernetes-admin]\n  verbs: [get, list, watch]\n"
            "- level: None\n"
        )
        return path

    def _bootstrap_admin(self) -> None:
        # admin.conf's user is in kubeadm:cluster-admins, bound only by `kubeadm init`; bind it the
        # same way with super-admin.conf, then hand out admin.conf as kubeadm does.
        super_admin = str(self.pki / "super-admin.conf")
        kubectl = self.binary("kubectl")
        self._run(
            [
                kubectl,
                "--kubeconfig",
                super_admin,
                "create",
                "clusterrolebinding",
                "kubeadm:cluster-admins",
                "--clusterrole=cluster-admin",
                "--group=kubeadm:cluster-admins",
            ]
        )
        shutil.copy(self.pki / "admin.conf", self.kubeconfig)
        self.kubeconfig.chmod(0o600)

    def _upload_kubeadm_config(self) -> None:
        # kubeadm's own phase writes kube-system/kubeadm-config, where tools (and calico-node) read podSubnet.
        self._run(
            [
                self.binary("kubeadm"),
                "init",
                "phase",
                "upload-config",
                "kubeadm",
                "--config",
                str(self.state_dir / "kubeadm.yaml"),
                "--kubeconfig",
                str(self.kubeconfig),
            ]
        )

    def _start_controller_manager(self, spec: ClusterSpec) -> None:
        conf = str(self.pki / "controller-manager.conf")
        port = spec.ports.controller_manager
        self._spawn(
            "3-kube-controller-manager",
            [
                self.binary("kube-controller-manager"),
                f"--kubeconfig={conf}",
                f"--authentication-kubeconfig={conf}",
                f"--authorization-kubeconfig={conf}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--leader-elect=false",
                "--controllers=*",
                "--use-service-account-credentials=true",
                # Straight from kubeadm's manifest: networking.podSubnet becomes --allocate-node-cidrs=true
                # --cluster-cidr, from which every node gets its spec.podCIDR.
                *self.kubeadm_flags("kube-controller-manager", KUBEADM_NETWORK_FLAGS),
                f"--root-ca-file={self.pki / 'ca.crt'}",
                f"--service-account-private-key-file={self.pki / 'sa.key'}",
                f"--cluster-signing-cert-file={self.pki / 'ca.crt'}",
                f"--cluster-signing-key-file={self.pki / 'ca.key'}",
            ],
        )
        # Its serving certificate is self-signed in memory: nothing to verify it against.
        self._wait_http("3-kube-controller-manager", f"https://127.0.0.1:{port}/healthz", b"ok", verify=False)

    def kubeadm_flags(self, component: str, names: tuple[str, ...]) -> list[str]:
        """The flags among `names` of a static pod manifest that `kubeadm init --dry-run` wrote."""
        manifest = self.pki / f"{component}.yaml"
        flags = [line.strip()[2:] for line in manifest.read_text().splitlines() if line.strip().startswith("- --")]
        return [flag for flag in flags if flag[2:].split("=", 1)[0] in names]

    def _start_scheduler(self, spec: ClusterSpec) -> None:
        conf = str(self.pki / "scheduler.conf")
        port = spec.ports.scheduler
        self._spawn(
            "4-kube-scheduler",
            [
                self.binary("kube-scheduler"),
                f"--kubeconfig={conf}",
                f"--authentication-kubeconfig={conf}",
                f"--authorization-kubeconfig={conf}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--leader-elect=false",
            ],
        )
        self._wait_http("4-kube-scheduler", f"https://127.0.0.1:{port}/healthz", b"ok", verify=False)

    def _start_kwok(self) -> None:
        self._spawn(
            "5-kwok",
            [
                self.binary("kwok"),
                f"--kubeconfig={self.pki / 'super-admin.conf'}",
                "--manage-all-nodes=true",
                "--node-lease-duration-seconds=40",
            ],
        )

    def _create_nodes(self, spec: ClusterSpec) -> None:
        items = []
        for index, name in enumerate(node_names(spec.nodes)):
            labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name}
            taints = []
            if name == CONTROL_PLANE_NODE:
                labels["node-role.kubernetes.io/control-plane"] = ""
                taints = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}},
                    "spec": {"providerID": f"kwok://{name}", "taints": taints},
                    # TEST-NET-1 addresses: data only, never dialled.
                    "status": {
                        "addresses": [{"type": "InternalIP", "address": node_address(index)}],
                        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                        "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    },
                }
            )
        manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        self._run([self.binary("kubectl"), "--kubeconfig", str(self.kubeconfig), "create", "-f", "-"], stdin=manifest)

    def _wait_nodes(self, spec: ClusterSpec) -> None:
        kubectl = [self.binary("kubectl"), "--kubeconfig", str(self.kubeconfig)]
        networks = {network.version: network for network in pod_networks(spec.pod_cidr)}
        deadline = time.monotonic() + START_TIMEOUT
        self._run([*kubectl, "wait", "node", "--all", "--for=condition=Ready", f"--timeout={START_TIMEOUT}s"])
        self._run(
            [
                *kubectl,
                "wait",
                "node",
                "--all",
                "--for=jsonpath={.spec.podCIDR}",
                f"--timeout={max(1, int(deadline - time.monotonic()))}s",
            ]
        )
        nodes = json.loads(self._run([*kubectl, "get", "nodes", "-o", "json"]))["items"]
        for node in nodes:
            cidrs = [ipaddress.ip_network(cidr) for cidr in node["spec"].get("podCIDRs") or []]
            if sorted(cidr.version for cidr in cidrs) != sorted(networks) or not all(
                cidr.subnet_of(networks[cidr.version]) for cidr in cidrs
            ):
                raise ClusterError(
                    f"node {node['metadata']['name']} got podCIDRs {cidrs}, not one of each of {spec.pod_cidr}"
                )
        self._wait_serviceaccount(kubectl)

    def _wait_serviceaccount(self, kubectl: list[str]) -> None:
        # Pods are refused by ServiceAccount admission until the controller creates the SA.
        for namespace in ("default", "kube-system"):
            self._run(
                [
                    *kubectl,
                    "wait",
                    "-n",
                    namespace,
                    "serviceaccount/default",
                    "--for=create",
                    f"--timeout={START_TIMEOUT}s",
                ]
            )

    # -- process helpers ---------------------------------------------------------------------
    def _expected_exe(self, name: str) -> str | None:
        recorded = self.state_dir / "bin-dir"
        return str(Path(recorded.read_text().strip()) / name) if recorded.exists() else None

    def _spawn(self, key: str, argv: list[str]) -> None:
        name = key.split("-", 1)[1]
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.state_dir,
        )
        log.close()
        (self.pids / f"{key}.pid").write_text(str(proc.pid))
        self._procs[key] = proc

    def _wait_http(self, key: str, url: str, expect: bytes, verify: bool = True) -> None:
        name = key.split("-", 1)[1]
        proc = self._procs[key]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                raise ClusterError(
                    f"{name} exited with code {code} while starting; see {self.logs / name}.log:\n"
                    + _tail(self.logs / f"{name}.log")
                )
            if self._probe(url, expect, verify):
                return
            time.sleep(0.5)
        raise ClusterError(
            f"{name} did not become healthy at {url} within {START_TIMEOUT}s; "
            f"see {self.logs / name}.log:\n" + _tail(self.logs / f"{name}.log")
        )

    def _probe(self, url: str, expect: bytes = b"ok", verify: bool = True) -> bool:
        context = None
        if url.startswith("https"):
            context = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - loopback
                return expect in response.read()
        except (urllib.error.URLError, OSError, ssl.SSLError):
            return False

    def _run(self, argv: list[str], stdin: str | None = None, env: dict | None = None) -> str:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, env=env)
        if result.returncode != 0:
            raise ClusterError(f"`{' '.join(argv[:4])} …` failed ({result.returncode}):\n{result.stderr.strip()}")
        return result.stdout

    @staticmethod
    def _check_ports_free(ports: Ports) -> None:
        for name, port in asdict(ports).items():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError as exc:
                    raise ClusterError(
                        f"port 127.0.0.1:{port} ({name.replace('_', ' ')}) is in use ({exc.strerror}); "
                        f"stop what holds it (`ss -ltnp sport = :{port}`) or run `make cluster-down`"
                    ) from exc


def _pid_runs(pid: int, expected_exe: str | None) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    # The PID may have been reused by an unrelated process since we recorded it.
    return expected_exe is None or cmdline == expected_exe


def _stop_pid(pid: int, expected_exe: str | None, timeout: float = 10) -> bool:
    if not _pid_runs(pid, expected_exe):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Reap it if it is our child (pytest fixture); otherwise just look.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        if not _pid_runs(pid, expected_exe) or _is_zombie(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster (harmless when it is already up)")
    up.add_argument("--pod-cidr", default=os.environ.get("POD_CIDR") or DEFAULT_POD_CIDR)
    up.add_argument("--nodes", type=int, default=int(os.environ.get("NODES") or 3))
    sub.add_parser("down", help="stop the processes `up` started and remove the state")
    sub.add_parser("status", help="exit 0 when the cluster is up and healthy")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.state_dir)
    try:
        if args.command == "up":
            began = time.monotonic()
            spec = ClusterSpec(pod_cidr=args.pod_cidr, nodes=args.nodes)
            how = f"up in {time.monotonic() - began:.1f}s" if cluster.up(spec) else "already up"
            print(f"local cluster {how}: POD_CIDR={spec.pod_cidr} NODES={spec.nodes}; KUBECONFIG={cluster.kubeconfig}")
        elif args.command == "down":
            stopped = cluster.down()
            print("local cluster down" + (f" (stopped {', '.join(stopped)})" if stopped else " (nothing was running)"))
        else:
            spec = cluster.running_spec()
            if spec is None or not cluster.is_healthy():
                print("local cluster is not running")
                return 1
            print(f"local cluster up: POD_CIDR={spec.pod_cidr} NODES={spec.nodes}; KUBECONFIG={cluster.kubeconfig}")
            for name, pod_cidr in cluster.node_pod_cidrs().items():
                print(f"  node {name}: podCIDR {pod_cidr}")
    except ClusterError as exc:
        print(f"localcluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
