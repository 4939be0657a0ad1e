"""site.yml, switch_backend.yml and the roles on the local inventory: what `make run` does."""

from __future__ import annotations

import json
import os
import re
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
    switched = playbook("playbooks/switch_backend.yml", "-e", extra)
    assert switched.rc == 0 and switched.changed > 0, switched.output[-3000:]
    assert live_backend(kubectl, cni) == state
    again = playbook("playbooks/switch_backend.yml", "-e", extra)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    leave(cluster, f"site:{cni}:switched")


def test_a_pod_cidr_that_disagrees_with_the_cluster_fails_and_changes_nothing(site_installed, audit):
    # Any cluster site.yml built with flannel's pod CIDR: the switch test's last one will do.
    site_installed("flannel", "site:flannel:switched")
    since = audit.offset()
    refused = site("cni=flannel", "pod_cidr=10.99.0.0/16")
    assert refused.rc != 0
    assert "pod_cidr 10.99.0.0/16 disagrees with the cluster's networking.podSubnet 10.244.0.0/16" in refused.output
    assert "is a migration" in refused.output
    assert describe_writes(audit.writes_since(since)) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["cni=weave"], "value of cni_name must be one of: flannel, calico, canal, got: weave"),
        (
            ["cni=flannel", "cni_backend=bgp"],
            "cni_backend=bgp is not a backend of flannel; use one of: vxlan, host-gw, wireguard, udp",
        ),
        (["cni=calico", "cni_backend=host-gw"], "use one of: bgp, ipip, vxlan, bird"),
        (
            ["cni=calico", "cni_backend=ipip-please"],
            "value of cni_backend must be one of: bgp, bird, host-gw, ipip, udp, vxlan, wireguard",
        ),
    ],
)
def test_bad_cni_or_backend_fails_at_role_entry_with_the_allowed_values(extra, message):
    run = site(*extra)
    assert run.rc != 0
    assert message in run.output, run.output[-2000:]
    assert "Prepare the nodes" not in run.output  # nothing ran past the check


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


def test_prepare_recognises_this_kernels_built_in_features(tmp_path):
    (tmp_path / "play.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles: [kubeforge.cluster.prepare]\n"
    )
    args = {"prepare_node_changes": False, "prepare_runtime_sockets": [], "prepare_cni_backend": "udp"}
    run = playbook(str(tmp_path / "play.yml"), "-e", json.dumps(args))
    assert run.rc == 0 and "lacks" not in run.output, run.output[-2000:]
