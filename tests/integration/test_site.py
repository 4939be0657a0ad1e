"""site.yml, switch_backend.yml and the roles on the local inventory: what `make run` does."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.ansible import describe_writes
from tests.helpers.cluster_state import leave, reuse

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DEFAULT_CIDR = {"flannel": "10.244.0.0/16", "calico": "192.168.0.0/16", "canal": "10.244.0.0/16"}
DAEMONSET = {
    "flannel": ("kube-flannel", "kube-flannel-ds"),
    "calico": ("kube-system", "calico-node"),
    "canal": ("kube-system", "canal"),
}


class Run:
    def __init__(self, completed: subprocess.CompletedProcess):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        recap = re.search(
            r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", self.output, re.MULTILINE
        )
        self.ok, self.changed, self.failed = (int(n) for n in recap.groups()) if recap else (0, -1, -1)


def playbook(*args: str, cwd: Path = REPO, env: dict | None = None) -> Run:
    environment = dict(
        os.environ,
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        **(env or {}),
    )
    environment.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        check=False,
    )
    return Run(completed)


def site(*extra: str, check: bool = False) -> Run:
    args = ["site.yml"]
    for item in extra:
        args += ["-e", item]
    return playbook(*args, *(["--check", "--diff"] if check else []))


@pytest.fixture
def site_installed(local_cluster):
    """install(cni): a cluster that site.yml built with cni, the one the last test left so (leave(..., "site:<cni>"),
    or one of the other states given), else a new one."""

    def install(cni: str, *also: str):
        if not reuse(local_cluster, f"site:{cni}", *also, pod_cidr=DEFAULT_CIDR[cni]):
            local_cluster.down()
            run = site(f"cni={cni}")
            assert run.rc == 0 and run.failed == 0, run.output[-3000:]
        return local_cluster

    return install


def test_check_mode_on_a_fresh_host_shows_the_install_and_writes_nothing(stopped_cluster):
    # A fresh host: no kubeadm configuration from an earlier test either.
    shutil.rmtree(REPO / ".kubeadm-local", ignore_errors=True)
    files = written_by_the_roles()
    checked = site("cni=calico", check=True)
    assert checked.rc == 0 and checked.failed == 0, checked.output[-3000:]
    assert checked.changed > 0, checked.output[-3000:]  # it says what a real run would change
    # The configuration kubeadm would get, with the version of the kubeadm binary (read in check mode too).
    assert re.search(r"^\+kubernetesVersion: v1\.\d+\.\d+$", checked.output, re.MULTILINE), checked.output[-3000:]
    assert "+  podSubnet: 192.168.0.0/16" in checked.output
    assert not (REPO / ".kubeadm-local").exists()
    assert stopped_cluster.running_spec() is None and not stopped_cluster.is_healthy()
    assert written_by_the_roles() == files


# calico last: the two tests after this one start from the cluster it leaves.
@pytest.mark.parametrize("cni", ["flannel", "canal", "calico"])
def test_site_installs_each_cni_with_its_pod_cidr_and_a_second_run_changes_nothing(stopped_cluster, kubectl, cni):
    first = site(f"cni={cni}")
    assert first.rc == 0 and first.failed == 0, first.output[-3000:]
    assert first.changed > 0
    cidr = DEFAULT_CIDR[cni]
    # kubeadm's own output carries the pod CIDR to kube-controller-manager ...
    # (tools/localcluster.py starts the controller-manager from the manifest kubeadm --dry-run wrote)
    manifest = (REPO / ".localcluster/kubeadm/kube-controller-manager.yaml").read_text()
    assert f"- --cluster-cidr={cidr}" in manifest and "- --allocate-node-cidrs=true" in manifest
    # ... which gives every node a podCIDR inside it, and the CNI the same network.
    nodes = kubectl.json("get", "nodes")["items"]
    assert all(node["spec"]["podCIDR"].startswith(cidr.split(".0.0/")[0] + ".") for node in nodes)
    namespace, name = DAEMONSET[cni]
    daemonset = kubectl.json("get", "daemonset", "-n", namespace, name)
    assert daemonset["status"]["numberAvailable"] == len(nodes)
    kubeadm_config = kubectl.json("get", "configmap", "-n", "kube-system", "kubeadm-config")["data"]
    assert f"podSubnet: {cidr}" in kubeadm_config["ClusterConfiguration"]
    assert kubectl.json("get", "deployment", "-n", "kube-system", "coredns")["metadata"]["name"] == "coredns"
    assert f"CNI: {cni} " in first.output and f"pod CIDR {cidr}" in first.output
    second = site(f"cni={cni}")
    assert second.rc == 0 and second.changed == 0, second.output[-3000:]
    leave(stopped_cluster, f"site:{cni}")


def test_check_mode_on_an_installed_cluster_changes_nothing_and_shows_the_diff(site_installed, kubectl, audit):
    cluster = site_installed("calico")
    before = kubectl.json("get", "configmap", "-n", "kube-system", "calico-config")["metadata"]["resourceVersion"]
    since = audit.offset()
    checked = site("cni=calico", "cni_backend=vxlan", check=True)
    assert checked.rc == 0 and checked.failed == 0, checked.output[-3000:]
    assert "-  calico_backend: bird" in checked.output and "+  calico_backend: vxlan" in checked.output
    assert describe_writes(audit.writes_since(since)) == []
    assert (
        kubectl.json("get", "configmap", "-n", "kube-system", "calico-config")["metadata"]["resourceVersion"] == before
    )
    leave(cluster, "site:calico")


def live_backend(kubectl, cni: str) -> tuple:
    """Flannel: net-conf.json's Backend.Type; Calico: calico_backend and the IPPool's ipipMode, vxlanMode."""
    if cni == "flannel":
        data = kubectl.json("get", "configmap", "-n", "kube-flannel", "kube-flannel-cfg")["data"]
        return (json.loads(data["net-conf.json"])["Backend"]["Type"],)
    pool = kubectl.json("get", "ippools.crd.projectcalico.org", "default-ipv4-ippool")["spec"]
    calico_backend = kubectl.json("get", "configmap", "-n", "kube-system", "calico-config")["data"]["calico_backend"]
    return (calico_backend, pool["ipipMode"], pool["vxlanMode"])


# cni, (backend through site.yml, its live state), (backend and options through switch_backend.yml, its live state)
# calico first, on the cluster the tests before leave; flannel last, for the test after.
SWITCHES = [
    # Calico's backend options go through the cni_backend role too (was molecule's switch_calico).
    (
        "calico",
        ("bgp", ("bird", "Never", "Never")),
        ("vxlan", {"encapsulation": "CrossSubnet"}, ("vxlan", "Never", "CrossSubnet")),
    ),
    ("flannel", ("host-gw", ("host-gw",)), ("wireguard", {}, ("wireguard",))),
]


@pytest.mark.parametrize(("cni", "through_site", "through_switch"), SWITCHES, ids=[s[0] for s in SWITCHES])
def test_backend_switch_through_site_and_switch_backend_then_nothing_changes(
    site_installed, kubectl, audit, cni, through_site, through_switch
):
    cluster = site_installed(cni)
    backend, state = through_site
    switched = site(f"cni={cni}", f"cni_backend={backend}")
    assert switched.rc == 0 and switched.changed > 0, switched.output[-3000:]
    assert live_backend(kubectl, cni) == state
    since = audit.offset()
    again = site(f"cni={cni}", f"cni_backend={backend}")
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    assert describe_writes(audit.writes_since(since)) == []
    backend, options, state = through_switch
    extra = json.dumps({"cni_backend": backend, "cni_backend_options": options})
    before = live_backend(kubectl, cni)
    since = audit.offset()
    checked = playbook("playbooks/switch_backend.yml", "-e", extra, "--check", "--diff")
    assert checked.rc == 0 and checked.changed > 0, checked.output[-3000:]
    shown = rf'^\+\s+"Type": "{backend}"' if cni == "flannel" else r"^\+\s+calico_backend: vxlan"
    assert re.search(shown, checked.output, re.MULTILINE), checked.output[-3000:]
    assert describe_writes(audit.writes_since(since)) == [] and live_backend(kubectl, cni) == before
    switched = playbook("playbooks/switch_backend.yml", "-e", extra)
    assert switched.rc == 0 and switched.changed > 0, switched.output[-3000:]
    assert live_backend(kubectl, cni) == state
    again = playbook("playbooks/switch_backend.yml", "-e", extra)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    leave(cluster, f"site:{cni}:switched")


PSK_NOT_A_KEY = "kubeforge-not-a-wireguard-key-7731"
# (extra variables, the message that names the fix): each refused in site.yml's first two plays, which only read.
BAD_INPUTS = [
    ({"cni": "weave"}, "value of cni_name must be one of: flannel, calico, canal, got: weave"),
    ({"cni": "flannel", "cni_backend": "bgp"}, "cni_backend=bgp is not a backend of flannel; use one of: vxlan"),
    ({"cni": "calico", "cni_backend": "host-gw"}, "is not a backend of calico; use one of: bgp, ipip, vxlan, bird"),
    ({"cni": "canal", "cni_backend": "ipip-please"}, "value of cni_backend must be one of: bgp, bird, host-gw, ipip"),
    ({"pod_cidr": "banana"}, "pod_cidr='banana' is not a network CIDR"),
    ({"pod_cidr": "10.244.0.0/33"}, "pod_cidr='10.244.0.0/33' is not a network CIDR"),
    ({"pod_cidr": "10.244.0.1/16"}, "has host bits set"),
    ({"pod_cidr": "fd00::/48"}, "pod_cidr=fd00::/48: IPv6-only clusters are not supported; give an IPv4 network"),
    # Dual stack, as a comma string and as a list.
    ({"pod_cidr": "10.244.0.0/16,10.245.0.0/16"}, "pod_cidr=10.244.0.0/16,10.245.0.0/16 has two IPv4 networks"),
    (
        {"pod_cidr": ["fd00:10:244::/56", "10.244.0.0/16"]},
        "give the IPv4 network first (10.244.0.0/16,fd00:10:244::/56)",
    ),
    ({"pod_cidr": "10.244.0.0/16,fd00:10:244::/72"}, "fd00:10:244::/72 is smaller than one node's pod subnet (/64"),
    ({"pod_cidr": "10.244.0.0/16,fd00::/56", "cni_backend": "udp"}, "backend=udp of flannel cannot carry IPv6 pods"),
    ({"pod_cidr": "10.244.0.0/16,fd00::/56", "cni": "canal"}, "canal.yaml's CNI configuration takes one host-local"),
    (
        {"pod_cidr": "10.244.0.0/16,fd00::/56", "kubeadm_init_service_subnet": "10.96.0.0/12,fd00::/112"},
        "pod_cidr fd00::/56 overlaps kubeadm_init_service_subnet fd00::/112",
    ),
    (
        {"kubeadm_init_service_subnet": "10.96.0.0/12,fd00:10:96::/96"},
        "kubeadm_init_service_subnet network fd00:10:96::/96 is too large for services",
    ),
    ({"pod_cidr": "10.96.0.0/16"}, "pod_cidr 10.96.0.0/16 overlaps kubeadm_init_service_subnet 10.96.0.0/12"),
    ({"kubeadm_init_service_subnet": "10.240.0.0/12"}, "pod_cidr 10.244.0.0/16 overlaps kubeadm_init_service_subnet"),
    ({"kubeadm_init_service_subnet": "10.0.0.0/8"}, "kubeadm_init_service_subnet network 10.0.0.0/8 is too large for"),
    ({"kubeadm_init_service_subnet": "10.96.0/12"}, "kubeadm_init_service_subnet='10.96.0/12' is not a network CIDR"),
    ({"kubeadm_init_kubernetes_version": "latest"}, "kubeadm_init_kubernetes_version=latest is not a Kubernetes"),
    ({"kubeadm_init_bind_port": "https"}, "argument 'kubeadm_init_bind_port' is of type str and we were unable"),
    ({"cni_backend_options": {"mtu": 1400}}, "the MTU is an option of its own, mtu (the roles' cni_mtu)"),
    ({"cni_backend_options": {"vnii": 2}}, "Unsupported parameters for (kubeforge.cluster.cni_config) module: "),
    ({"cni_backend_options": ["vni", 2]}, "argument 'cni_backend_options' is of type list and we were unable"),
    ({"cni_backend_options": {"vni": 0}}, "vni=0 is out of range; use 1 to 16777215"),
    ({"cni_backend_options": {"vni": 16777216}}, "vni=16777216 is out of range; use 1 to 16777215"),
    ({"cni_backend_options": {"vni": "four"}}, "argument 'vni' is of type str found in 'backend_options'"),
    ({"cni_backend_options": {"port": 70000}}, "port=70000 is out of range; use 1 to 65535"),
    ({"cni_backend": "host-gw", "cni_backend_options": {"vni": 2}}, "vni does not apply to flannel backend host-gw"),
    ({"cni_backend": "vxlan", "cni_backend_options": {"listen_port": 51830}}, "listen_port does not apply to flannel"),
    ({"cni_backend": "wireguard", "cni_backend_options": {"psk": PSK_NOT_A_KEY}}, "psk is not a WireGuard key"),
    ({"cni_backend": "wireguard", "cni_backend_options": {"wireguard_mode": "both"}}, "wireguard_mode must be one of"),
    ({"cni_backend": "wireguard", "cni_backend_options": {"listen_port": 0}}, "listen_port=0 is out of range"),
    ({"cni": "canal", "cni_backend": "udp", "cni_backend_options": {"gbp": True}}, "gbp does not apply to flannel"),
    ({"cni": "calico", "cni_backend_options": {"vni": 4096}}, "vni apply to flannel and canal backends, not to calico"),
    ({"cni": "calico", "cni_backend": "bgp", "cni_backend_options": {"encapsulation": "Always"}}, "does not apply to"),
    ({"cni": "calico", "cni_backend_options": {"encapsulation": "Sometimes"}}, "encapsulation must be one of: Always"),
    ({"cni_backend_options": {"encapsulation": "Always"}}, "encapsulation applies to Calico's ipip and vxlan backends"),
    ({"cni_backend_options": {"wireguard": True}}, "wireguard (Calico's encryption) applies to cni=calico"),
    ({"cni_node_address": "cidr=10.0.0.0/24"}, "flannel cannot choose its node address that way"),
    ({"cni": "calico", "cni_node_address": "interface"}, "node_address=interface needs a value"),
    ({"cni_mtu": 100}, "mtu=100 is out of range; use 576 to 9000"),
    ({"cni": "calico", "cni_mtu": 9001}, "mtu=9001 is out of range; use 576 to 9000"),
    ({"cni_mtu": "big"}, "argument 'cni_mtu' is of type str and we were unable to convert to int"),
    ({"cni_version": "latest"}, "version='latest' is not a release tag; write it as upstream tags it"),
    ({"cni_version": "v0.99.1"}, "kube-flannel.yml does not exist on this host (from manifest_mirror"),
    ({"cni_version": "v0.99.1", "cni_manifest_mirror": ""}, "no sha256 is known for flannel v0.99.1"),
    ({"cni_manifest_url": "https://example.invalid/f.yml"}, "parameters are mutually exclusive"),
    ({"cni_manifest_url": "https://example.invalid/f.yml", "cni_manifest_mirror": ""}, "no sha256 is known for"),
    ({"cni_manifest_sha256": "abc"}, "manifest_sha256='abc' is not a sha256 (64 hex digits)"),
    ({"cni_manifest_path": "/nonexistent/kf.yml", "cni_manifest_mirror": ""}, "does not exist on this host"),
    ({"cni_image_registry": "/"}, "image_registry is empty; give a registry such as"),
    ({"cni_restart": "sometimes"}, "value of cni_restart must be one of: auto, always, never, got: sometimes"),
    ({"cni_wait_timeout": "soon"}, "argument 'cni_wait_timeout' is of type str and we were unable to convert"),
    ({"cni_verify_when": "sometimes"}, "value of cni_verify_when must be one of: changed, always, never"),
    ({"cni_rollback": "perhaps"}, "The value 'perhaps' is not a valid boolean"),
    ({"node_install_source": "magic"}, "value of node_install_source must be one of: packages, url, local, none"),
    # Only the cluster can say this one: read in kubeadm_init, before its files are written.
    ({"pod_cidr": "10.200.0.0/16"}, "pod_cidr 10.200.0.0/16 disagrees with the cluster's networking.podSubnet 10.2"),
]


def tree_digest(*roots: Path) -> dict[str, str]:
    """sha256 of every file under roots, by path."""
    digests = {}
    for root in roots:
        for path in sorted(root.rglob("*") if root.exists() else []):
            if path.is_file():
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def written_by_the_roles() -> dict[str, str]:
    """What site.yml writes on the local inventory's node: kubeadm's configuration, the kubeadm output the local
    control plane starts from, and the manifest cache."""
    cache = Path(os.environ.get("KUBEFORGE_CACHE") or Path.home() / ".cache" / "kubeforge") / "manifests"
    return tree_digest(REPO / ".kubeadm-local", REPO / ".localcluster" / "kubeadm", cache)


def test_every_bad_input_gets_one_error_naming_the_fix_and_changes_nothing_anywhere(site_installed, kubectl, audit):
    cluster = site_installed("flannel", "site:flannel:switched")
    files = written_by_the_roles()
    assert any(name.endswith("/kubeadm.yaml") for name in files)  # the checksums cover kubeadm's configuration
    since = audit.offset()
    wrong = []
    for extra, message in BAD_INPUTS:
        run = playbook("site.yml", "-e", json.dumps(extra))
        fatal = run.output.count("fatal: [")
        if not (
            run.rc != 0
            and fatal == 1
            and run.changed == 0
            and message in " ".join(run.output.split()).replace("''", "'")  # YAML quotes a quote twice
            and "Traceback" not in run.output
            and PSK_NOT_A_KEY not in run.output
        ):
            wrong.append(f"{extra}: rc={run.rc} fatal={fatal} changed={run.changed}\n{run.output[-1500:]}")
    assert wrong == [], "\n\n".join(wrong)
    assert len(BAD_INPUTS) >= 30
    assert describe_writes(audit.writes_since(since)) == []
    assert written_by_the_roles() == files
    # A check-mode switch after the refused runs reads nothing they could have left, and shows the right diff.
    (live,) = live_backend(kubectl, "flannel")
    checked = site("cni=flannel", "cni_backend=host-gw", check=True)
    assert checked.rc == 0 and checked.failed == 0, checked.output[-3000:]
    assert re.search(rf'^-\s+"Type": "{live}"', checked.output, re.MULTILINE), checked.output
    assert re.search(r'^\+\s+"Type": "host-gw"', checked.output, re.MULTILINE), checked.output
    assert describe_writes(audit.writes_since(since)) == []
    assert written_by_the_roles() == files
    leave(cluster, "site:flannel:switched")


def test_existing_playbook_uses_the_role_from_a_built_and_installed_collection(stopped_cluster, kubectl, tmp_path):
    assert site("cni=canal").rc == 0
    # Away from the checkout: only the installed collection can serve kubeforge.cluster here.
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env = {"ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"), "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg")}
    galaxy = [str(VENV_BIN / "ansible-galaxy"), "collection"]
    options = {"capture_output": True, "text": True, "cwd": tmp_path, "env": dict(os.environ, **env)}
    built = subprocess.run([*galaxy, "build", str(REPO), "--output-path", str(tmp_path)], check=True, **options)
    tarball = next(tmp_path.glob("kubeforge-cluster-*.tar.gz"))
    assert tarball.name in built.stdout
    subprocess.run([*galaxy, "install", str(tarball), "-p", str(tmp_path / "collections")], check=True, **options)
    installed = tmp_path / "collections/ansible_collections/kubeforge/cluster"
    assert (installed / "roles/cni_backend/meta/argument_specs.yml").is_file()
    assert not (installed / ".localcluster").exists() and not (installed / "tools").exists()
    # The playbook gives cni_info only module_defaults for group/kubeforge.cluster.cni: no KUBECONFIG to fall back on.
    env["KUBECONFIG"] = str(tmp_path / "no-such-kubeconfig")
    extra = {
        "cni_backend": "host-gw",
        "platform_kubeconfig": str(stopped_cluster.kubeconfig),
        "platform_context": yaml.safe_load(Path(stopped_cluster.kubeconfig).read_text())["current-context"],
        "cni_manifest_mirror": str(REPO.parent / "shared" / "upstream"),
    }
    run = playbook(
        str(REPO / "tests/integration/files/existing_infra.yml"),
        "-i",
        "localhost,",
        "-v",
        "-e",
        json.dumps(extra),
        cwd=tmp_path,
        env=env,
    )
    assert run.rc == 0 and run.changed > 0, run.output[-3000:]
    conf = json.loads(kubectl.json("get", "configmap", "-n", "kube-system", "canal-config")["data"]["net-conf.json"])
    assert conf["Backend"]["Type"] == "host-gw"


def test_prepare_fails_early_naming_what_is_missing(tmp_path):
    runtime = tmp_path / "runtime.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(runtime))
        args = {
            "prepare_cni": "flannel",
            "prepare_cni_backend": "vxlan",
            "prepare_node_changes": False,
            "prepare_enforce": True,
            "prepare_runtime_sockets": [str(runtime)],
            # br_netfilter and tun are built into this machine's kernel and absent from /sys/module.
            "prepare_kernel_features": [
                "kubeforge_no_such_module",
                "br_netfilter",
                "tun",
                "vxlan",
                "kubeforge_no_such_vxlan",
            ],
        }
        (tmp_path / "play.yml").write_text(
            "- hosts: localhost\n  gather_facts: false\n  roles: [kubeforge.cluster.prepare]\n"
        )
        run = playbook(str(tmp_path / "play.yml"), "-e", json.dumps(args))
        assert run.rc != 0, run.output[-3000:]
        assert "lacks: kernel feature kubeforge_no_such_module; kernel feature kubeforge_no_such_vxlan." in run.output
        assert "container runtime" not in run.output.split("lacks:")[1].splitlines()[0]
        report = playbook(
            str(tmp_path / "play.yml"),
            "-e",
            json.dumps({**args, "prepare_enforce": False, "prepare_runtime_sockets": ["/nonexistent"]}),
        )
        assert report.rc == 0 and report.changed == 0, report.output[-2000:]
        assert "a container runtime socket (/nonexistent)" in report.output
        assert "flannel vxlan: 8472/udp" in report.output
        alias = playbook(
            str(tmp_path / "play.yml"),
            "-e",
            json.dumps({**args, "prepare_enforce": False, "prepare_cni": "calico", "prepare_cni_backend": "bird"}),
        )
        assert "calico bird: 179/tcp" in alias.output, alias.output[-2000:]
        # Calico's WireGuard: its port reported, its kernel module required (this kernel has none).
        encrypted = playbook(
            str(tmp_path / "play.yml"),
            "-e",
            json.dumps(
                {
                    **{key: value for key, value in args.items() if key != "prepare_kernel_features"},
                    "prepare_enforce": False,
                    "prepare_cni": "calico",
                    "prepare_cni_backend": "vxlan",
                    "cni_backend_options": {"wireguard": True},
                }
            ),
        )
        assert "calico vxlan: 4789/udp, 51820/udp" in encrypted.output, encrypted.output[-2000:]
        assert "kernel feature wireguard" in encrypted.output


def test_prepare_recognises_this_kernels_built_in_features(tmp_path):
    (tmp_path / "play.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles: [kubeforge.cluster.prepare]\n"
    )
    args = {"prepare_node_changes": False, "prepare_runtime_sockets": [], "prepare_cni_backend": "udp"}
    run = playbook(str(tmp_path / "play.yml"), "-e", json.dumps(args))
    assert run.rc == 0 and "lacks" not in run.output, run.output[-2000:]
