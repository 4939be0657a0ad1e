"""site.yml on fresh real nodes: every bad input and fault is refused before any node changes, a failed
kubeadm init is recovered by the next run, and two control planes plus a worker come up (kubeadm join
--control-plane with uploaded certificates) as a dual-stack cluster whose IPv6 pod traffic crosses the nodes over
Flannel's vxlan (flannel-v6.1) and host-gw (the nodes' IPv6 routes). Brings its own nodes up and down
(`make nodes-test`)."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import time

import pytest
from nodes import NETNS, veth_name

from tests.helpers.nodes import ADMIN, REPO, kubectl_json, node_host, nodes_cmd, playbook, testbed_state
from tests.nodes.probes import (
    counted_at_least,
    cross_node_pings,
    delete_probes,
    flannel_routes,
    ipv6_forwarded,
    link,
    node_addresses,
    pings_between,
    pod_ips,
    running_probe_pods,
)

NODES = ["kf-node-1", "kf-node-2", "kf-node-3"]
# The HA cluster runs the other cgroup driver users can choose (the molecule scenario `nodes` runs systemd's), and is
# the dual-stack cluster too (one bring-up for both; the scenario `nodes` stays single-stack, as udp is IPv4 only).
POD_NETWORKS = ("10.244.0.0/16", "fd00:10:244::/56")
SERVICE_NETWORKS = ("10.96.0.0/12", "fd00:10:96::/112")
HA = (
    "-e",
    "cgroup_driver=cgroupfs",
    "-e",
    f"pod_cidr={','.join(POD_NETWORKS)}",
    "-e",
    f"kubeadm_init_service_subnet={','.join(SERVICE_NETWORKS)}",
)


# The cluster comes up at the older Kubernetes of the test bed (K8S_OLD_VERSION) and is upgraded to the inventory's
# (test_the_cluster_is_upgraded_one_minor_one_node_at_a_time); every later test runs on the upgraded cluster.
def old_kubernetes() -> tuple[str, ...]:
    old = testbed_state()["old"]
    return (
        "-e",
        f"node_install_kubernetes_version={old['versions']['kubernetes']}",
        "-e",
        f"node_install_local_dir={old['node_files']}",
    )


# Everything the roles write on a node.
WRITTEN = "/etc /usr/local /opt /var/cache/kubeforge /var/lib/kubelet /var/lib/etcd /run/containerd"


@pytest.fixture(scope="module", autouse=True)
def fresh_nodes():
    nodes_cmd("down")
    subprocess.run(["make", "-C", str(REPO), "nodes-up", "NODES=3"], check=True, capture_output=True)
    yield
    down = nodes_cmd("down")
    assert down.returncode == 0, down.stderr


def stamp_nodes() -> None:
    for name in NODES:
        assert node_host(name).run("touch /run/kubeforge-stamp").rc == 0
    time.sleep(1.1)  # mtime granularity: anything written from now on is newer than the stamp


def written_since_stamp(paths: str = WRITTEN) -> dict[str, list[str]]:
    found = {}
    for name in NODES:
        result = node_host(name).run(f"find {paths} -newer /run/kubeforge-stamp 2>/dev/null")
        found[name] = [line for line in result.stdout.splitlines() if line]
    return found


def refused(run, message: str, written: str = WRITTEN) -> None:
    """Failed with exactly this one message, no traceback, nothing changed: not a task, not a file."""
    if run.rc == 0 or message not in " ".join(run.output.split()) or "Traceback" in run.output:
        pytest.fail(f"wanted a refusal saying {message!r} (rc={run.rc}):\n{run.tail()}")
    assert run.changed == 0, run.recap
    assert written_since_stamp(written) == {name: [] for name in NODES}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"node_install_sha256": {"kubeadm": "0" * 64}},
            "has sha256 ",
        ),
        ({"node_install_local_dir": "/nonexistent/release-files"}, "kubeadm is missing (node_install_local_dir"),
        ({"node_install_source": "tarball"}, "value of node_install_source must be one of: packages, url, local, none"),
        (
            {"prepare_kernel_features": ["overlay", "kubeforge_no_such_feature"]},
            "lacks: kernel feature kubeforge_no_such_feature",
        ),
        ({"kubeadm_join_control_plane": "kf-node-9"}, "kubeadm_join_control_plane=kf-node-9 is not in the"),
        ({"cni_backend_options": {"vnii": 2}}, "Unsupported parameters for (kubeforge.cluster.cni_config) module"),
    ],
    ids=["wrong-checksum", "missing-local-file", "unknown-source", "missing-kernel-feature", "join-through", "option"],
)
def test_bad_input_changes_no_node(extra, message):
    stamp_nodes()
    refused(playbook("site.yml", "-e", json.dumps(extra)), message)


def test_check_mode_on_fresh_nodes_reports_the_install_and_changes_nothing():
    stamp_nodes()
    run = playbook("site.yml", "--check", "--diff")
    assert run.rc == 0, run.tail()
    text = " ".join(run.output.split())
    assert "kubeadm is not installed on kf-node-1 yet" in text, run.tail()
    assert "kf-node-3 has not joined and would join" in text, run.tail()
    assert all(run.recap[name]["changed"] > 0 for name in NODES), run.recap
    assert written_since_stamp() == {name: [] for name in NODES}


def test_an_os_the_package_source_does_not_know_is_refused():
    host = node_host("kf-node-3")
    original = host.file("/etc/os-release").content_string
    host.run("printf 'ID=alpine\\nNAME=\"Alpine Linux\"\\nVERSION_ID=3.20.0\\n' > /etc/os-release")
    try:
        stamp_nodes()
        run = playbook("site.yml", "-e", "node_install_source=packages")
        refused(run, "node_install_source=packages knows Debian/Ubuntu and RHEL-family hosts")
        assert "kf-node-3 runs Alpine" in " ".join(run.output.split())
    finally:
        host.run(f"printf %s {json.dumps(original)} > /etc/os-release")


def test_another_kubelet_version_is_refused_not_replaced():
    host = node_host("kf-node-2")
    host.run("printf '#!/bin/sh\\necho Kubernetes v1.35.2\\n' > /usr/bin/kubelet && chmod 755 /usr/bin/kubelet")
    try:
        stamp_nodes()
        run = playbook("site.yml")
        refused(run, "kubelet 1.35.2 is installed at /usr/bin/kubelet, this play pins 1.36.3")
        assert host.file("/usr/bin/kubelet").content_string.startswith("#!/bin/sh"), "left as it was"
    finally:
        host.run("rm -f /usr/bin/kubelet")


def test_an_unreachable_host_stops_the_play_before_any_change(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        (REPO / "inventories/nodes/hosts.yml")
        .read_text()
        .replace(
            "kf-node-3: {ansible_host: 198.18.0.13}",
            "kf-node-3: {ansible_host: 198.18.0.13}\n        kf-node-9: {ansible_host: 198.18.0.19}",
        )
    )
    (tmp_path / "group_vars").symlink_to(REPO / "inventories/nodes/group_vars")
    stamp_nodes()
    run = playbook("site.yml", "-i", str(tmp_path), "-e", "ansible_ssh_timeout=5")
    assert run.recap.get("kf-node-9", {}).get("unreachable") == 1, run.tail()
    refused(run, "kf-node-9")


def test_several_control_planes_without_an_endpoint_are_refused():
    stamp_nodes()
    run = playbook("site.yml", "-e", "kubeadm_init_control_plane_endpoint=", inventory="nodes-ha")
    refused(run, "control_plane has 2 hosts (kf-node-1, kf-node-2), but kubeadm_init_control_plane_endpoint is empty")


def test_a_failed_kubeadm_init_is_reset_and_redone_by_the_next_run():
    # Without the test bed's preflight exception kubeadm init stops at SystemVerification (cgroup v1).
    failed = playbook(
        "site.yml", *HA, *old_kubernetes(), "-e", '{"kubeadm_ignore_preflight_errors": []}', inventory="nodes-ha"
    )
    assert failed.rc != 0, failed.tail()
    assert "kubeadm init failed on kf-node-1" in failed.output and "SystemVerification" in failed.output, failed.tail()
    assert "--token" not in failed.output or "<hidden>" in failed.output
    cp = node_host("kf-node-1")
    assert cp.file("/etc/kubernetes/kubeforge/init-incomplete").exists

    run = playbook("site.yml", *HA, *old_kubernetes(), inventory="nodes-ha")
    assert run.rc == 0, run.tail()
    assert "Reset what the unfinished kubeadm init left" in run.output
    assert not cp.file("/etc/kubernetes/kubeforge/init-incomplete").exists


def kubernetes_versions() -> dict[str, object]:
    """What each part of the cluster really runs: kubeadm-config, each API server's /version, the control planes'
    static pod images, each Node's kubelet, each node's programs, kube-proxy's image."""
    cp = node_host("kf-node-1")
    config = kubectl_json(cp, "-n", "kube-system", "get", "configmap", "kubeadm-config")["data"]["ClusterConfiguration"]
    versions: dict[str, object] = {
        "cluster": next(line.split()[1] for line in config.splitlines() if line.startswith("kubernetesVersion:")),
        "kubelets": {
            n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"]
            for n in kubectl_json(cp, "get", "nodes")["items"]
        },
        "cordoned": sorted(
            n["metadata"]["name"] for n in kubectl_json(cp, "get", "nodes")["items"] if n["spec"].get("unschedulable")
        ),
        "kube-proxy": kubectl_json(cp, "-n", "kube-system", "get", "daemonset", "kube-proxy")["spec"]["template"][
            "spec"
        ]["containers"][0]["image"].rsplit(":", 1)[1],
    }
    for name in NODES:
        host = node_host(name)
        versions[name] = {
            "kubeadm": host.check_output("kubeadm version -o short"),
            "kubelet": host.check_output("kubelet --version").split()[-1],
            "kubectl": host.check_output(
                "kubectl version --client -o json | python3 -c "
                '\'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])\''
            ),
        }
        if name in ("kf-node-1", "kf-node-2"):
            versions[name]["static pods"] = sorted(
                {
                    line.rsplit(":", 1)[1]
                    for line in host.check_output(
                        "sed -n 's/^ *image: *//p' /etc/kubernetes/manifests/kube-*.yaml"
                    ).splitlines()
                }
            )
            versions[name]["apiserver"] = json.loads(host.check_output("curl -sk https://127.0.0.1:6443/version"))[
                "gitVersion"
            ]
    return versions


# Everything upgrade.yml writes on a node (the running cluster writes /var/lib/etcd and the rest of /var/lib/kubelet).
UPGRADE_WRITES = (
    "/etc/kubernetes /etc/containerd /etc/systemd/system /usr/local/bin /var/cache/kubeforge "
    "/var/lib/kubelet/config.yaml /var/lib/kubelet/kubeadm-flags.env"
)


def test_the_cluster_is_upgraded_one_minor_one_node_at_a_time(capsys):
    old = "v" + testbed_state()["old"]["versions"]["kubernetes"]
    new = "v" + testbed_state()["versions"]["kubernetes"]
    minor = int(old.split(".")[1])
    before = kubernetes_versions()
    assert before["cluster"] == old and set(before["kubelets"].values()) == {old}, before
    # Two minors up, and down: refused before any change, naming the path.
    for version, message in (
        (f"1.{minor + 2}.0", f"{old} -> v1.{minor + 2}.0 skips 1.{minor + 1}: kubeadm upgrades one minor at a time"),
        (f"1.{minor - 1}.9", f"The cluster runs {old} and node_install_kubernetes_version=1.{minor - 1}.9 is older"),
    ):
        stamp_nodes()
        refused(
            playbook(
                "playbooks/upgrade.yml", *HA, "-e", f"node_install_kubernetes_version={version}", inventory="nodes-ha"
            ),
            message,
            written=UPGRADE_WRITES,
        )
    # Check mode: the plan, every node, and nothing changed.
    stamp_nodes()
    check = playbook("playbooks/upgrade.yml", *HA, "--check", inventory="nodes-ha")
    text = " ".join(check.output.split())
    assert check.rc == 0 and f"{old} -> {new}, one node at a time" in text, check.tail()
    assert f"kf-node-1: the cluster configuration (kubeadm upgrade apply), its static pods, its kubelet ({old})" in text
    assert f"kf-node-3: its kubelet ({old})" in text, check.tail()
    assert written_since_stamp(UPGRADE_WRITES) == {name: [] for name in NODES}
    assert kubernetes_versions() == before

    started = time.monotonic()
    run = playbook("playbooks/upgrade.yml", *HA, inventory="nodes-ha")
    took = time.monotonic() - started
    assert run.rc == 0, run.tail(8000)
    after = kubernetes_versions()
    assert after["cluster"] == new and after["kube-proxy"] == new, after
    assert after["kubelets"] == {name: new for name in NODES} and after["cordoned"] == [], after
    for name in NODES:
        assert after[name]["kubeadm"] == after[name]["kubelet"] == after[name]["kubectl"] == new, (name, after[name])
    for name in ("kf-node-1", "kf-node-2"):
        assert after[name]["static pods"] == [new] and after[name]["apiserver"] == new, (name, after[name])
    # One node at a time: each drained, upgraded and uncordoned before the next is drained.
    drains = list(dict.fromkeys(re.findall(r"TASK \[[^\]]*Drain (kf-node-\d)\]", run.output)))
    uncordons = list(dict.fromkeys(re.findall(r"TASK \[[^\]]*Uncordon (kf-node-\d)\]", run.output)))
    assert drains == uncordons == NODES, (drains, uncordons)
    assert run.output.index("Uncordon kf-node-1") < run.output.index("Drain kf-node-2"), run.tail()
    with capsys.disabled():
        print(f"\nupgrade {old} -> {new} of 3 nodes (2 control planes, 1 worker): {took:.1f}s")

    again = playbook("playbooks/upgrade.yml", *HA, inventory="nodes-ha")
    assert again.rc == 0 and again.changed == 0, again.tail()
    assert f"Every node runs {new}: nothing to upgrade." in " ".join(again.output.split())
    # site.yml at the new version: the kubeadm configuration it keeps on the first control plane takes the version.
    site = playbook("site.yml", *HA, inventory="nodes-ha")
    assert site.rc == 0, site.tail()
    assert {host for _, host in site.changed_tasks} <= {"kf-node-1"}, site.changed_tasks


def test_two_control_planes_and_a_worker(tmp_path):
    cp = node_host("kf-node-1")
    assert cp.run(f"{ADMIN} wait --for=condition=Ready node --all --timeout=180s").rc == 0
    nodes = {n["metadata"]["name"]: n for n in kubectl_json(cp, "get", "nodes")["items"]}
    assert sorted(nodes) == NODES
    control_planes = sorted(
        n for n, node in nodes.items() if "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    )
    assert control_planes == ["kf-node-1", "kf-node-2"]
    for name in control_planes:
        host = node_host(name)
        assert host.file("/etc/kubernetes/manifests/kube-apiserver.yaml").exists
        assert host.file("/etc/kubernetes/pki/ca.key").exists, "certificates came from kubeadm-certs"
        assert host.socket("tcp://6443").is_listening
    members = cp.run(
        "crictl --runtime-endpoint unix:///run/containerd/containerd.sock ps --name etcd -q"
        if cp.exists("crictl")
        else f"{ADMIN} -n kube-system get pods -l component=etcd -o name"
    )
    assert len(members.stdout.split()) == 2, members.stdout
    for name in NODES:
        host = node_host(name)
        assert "cgroupDriver: cgroupfs" in host.file("/var/lib/kubelet/config.yaml").content_string
        assert "SystemdCgroup = false" in host.file("/etc/containerd/config.toml").content_string
        # cgroupfs names the pods' cgroups itself, beside the slices of the node's systemd
        assert host.file("/sys/fs/cgroup/memory/kubepods/besteffort").is_directory, name
        assert not host.file("/sys/fs/cgroup/memory/kubepods.slice").exists, name
    again = playbook("site.yml", *HA, inventory="nodes-ha")
    assert again.rc == 0 and again.changed == 0, again.tail()
    # The summary line wraps where the pod CIDR is long (dual stack).
    assert "3/3 nodes Ready" in " ".join(again.output.split()), again.tail()


def test_dual_stack_every_node_has_a_pod_cidr_and_an_address_of_each_family():
    cp = node_host("kf-node-1")
    pod_networks = [ipaddress.ip_network(n) for n in POD_NETWORKS]
    for node in kubectl_json(cp, "get", "nodes")["items"]:
        name = node["metadata"]["name"]
        cidrs = [ipaddress.ip_network(c) for c in node["spec"]["podCIDRs"]]
        # IPv4 first (the primary family), each of the node mask size kubeadm gave the controller-manager.
        assert [c.version for c in cidrs] == [4, 6] and [c.prefixlen for c in cidrs] == [24, 64], (name, cidrs)
        assert all(c.subnet_of(n) for c, n in zip(cidrs, pod_networks, strict=True)), (name, cidrs)
        internal = {a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"}
        index = NODES.index(name) + 1
        assert internal == {f"198.18.0.{10 + index}", f"fd00:198:18::{10 + index}"}, (name, internal)
    for name in ("kf-node-1", "kf-node-2"):  # both control planes run the controller-manager from kubeadm-config
        manifest = node_host(name).file("/etc/kubernetes/manifests/kube-controller-manager.yaml").content_string
        for flag in (
            f"--cluster-cidr={','.join(POD_NETWORKS)}",
            f"--service-cluster-ip-range={','.join(SERVICE_NETWORKS)}",
            "--node-cidr-mask-size-ipv4=24",
            "--node-cidr-mask-size-ipv6=64",
        ):
            assert flag in manifest, (name, flag)


@pytest.fixture(scope="module")
def dual_stack_cluster():
    """The HA cluster's control plane; the probe pods the dual-stack tests share are deleted after the last."""
    cp = node_host("kf-node-1")
    yield cp
    delete_probes(cp)


def test_dual_stack_vxlan_carries_both_families_across_nodes_ipv6_on_flannel_v6_1(dual_stack_cluster):
    cp = dual_stack_cluster
    addresses = {family: node_addresses(cp, family) for family in (4, 6)}
    for name in NODES:
        host = node_host(name)
        device = link(host, "flannel-v6.1")
        assert device is not None and device["linkinfo"]["info_kind"] == "vxlan", name
        data = device["linkinfo"]["info_data"]
        # iproute2 names an IPv6 VTEP address local6: the device carries VXLAN over the node's IPv6 address.
        assert (data["id"], data["port"], data.get("local6")) == (1, 8472, addresses[6][name][1]), (name, data)
        others = [cidr for node, (cidr, _) in addresses[6].items() if node != name]
        routes = flannel_routes(host, others, ip_family=6)
        assert {dst: route.get("dev") for dst, route in routes.items()} == dict.fromkeys(others, "flannel-v6.1")
    ipv6 = cross_node_pings(cp, NODES, device="flannel-v6.1", ip_family=6)
    assert ipv6["failures"] == [], ipv6
    assert counted_at_least(ipv6) == [], ipv6
    # The same pods over IPv4, on flannel.1.
    ipv4 = pings_between(cp, NODES, pod_ips(running_probe_pods(cp), 4), device="flannel.1")
    assert ipv4["failures"] == [], ipv4
    assert counted_at_least(ipv4) == [], ipv4


def test_dual_stack_host_gw_routes_ipv6_pods_via_the_nodes_ipv6_addresses(dual_stack_cluster):
    cp = dual_stack_cluster
    switched = playbook("playbooks/switch_backend.yml", "-e", "cni_backend=host-gw", inventory="nodes-ha")
    assert switched.rc == 0, switched.tail()
    for family in (4, 6):
        addresses = node_addresses(cp, family)
        for name in NODES:
            host = node_host(name)
            others = {cidr: ip for node, (cidr, ip) in addresses.items() if node != name}
            routes = flannel_routes(host, list(others), ip_family=family)
            assert {dst: (r.get("gateway"), r.get("dev")) for dst, r in routes.items()} == {
                cidr: (ip, "eth0") for cidr, ip in others.items()
            }, (name, family, routes)
    for name in NODES:
        for device in ("flannel.1", "flannel-v6.1"):
            assert link(node_host(name), device) is None, f"stale {device} left on {name}"
    # No flannel device now: the pods' IPv6 packets are the ones the node forwards out of its NIC.
    ipv6 = cross_node_pings(cp, NODES, device=None, ip_family=6, counter=ipv6_forwarded("eth0"))
    assert ipv6["failures"] == [], ipv6
    assert counted_at_least(ipv6) == [], ipv6


def test_dual_stack_host_gw_back_to_vxlan_takes_ipv6_off_the_host_gw_routes(dual_stack_cluster):
    # flanneld cannot add its vxlan routes over the host-gw ones it left (`invalid argument`), so IPv6 pod traffic
    # would stay on eth0 unless the cni role removes those routes of both families.
    cp = dual_stack_cluster
    switched = playbook("playbooks/switch_backend.yml", "-e", "cni_backend=vxlan", inventory="nodes-ha")
    assert switched.rc == 0, switched.tail()
    for family, device in ((4, "flannel.1"), (6, "flannel-v6.1")):
        addresses = node_addresses(cp, family)
        for name in NODES:
            others = [cidr for node, (cidr, _) in addresses.items() if node != name]
            routes = flannel_routes(node_host(name), others, ip_family=family)
            assert {dst: r.get("dev") for dst, r in routes.items()} == dict.fromkeys(others, device), (name, routes)
    # The probe pods of the host-gw test, still running: their IPv6 traffic crosses on flannel-v6.1 again.
    ipv6 = pings_between(cp, NODES, pod_ips(running_probe_pods(cp), 6), device="flannel-v6.1")
    assert ipv6["failures"] == [], ipv6
    assert counted_at_least(ipv6) == [], ipv6


# Day 2 on the HA cluster: its endpoint is HAProxy on every node (api_proxy), so the API outlives the first control
# plane; nodes are removed (drained, deleted, reset, cleaned) and joined again, one at a time.
ENDPOINT = "127.0.0.1:8443"
# What remove_node.yml writes on a node (a running cluster writes elsewhere all the time: etcd, containerd, pods).
REMOVAL_WRITES = "/etc/kubernetes /etc/cni /etc/haproxy /var/lib/cni /run/flannel"
ETCD_MEMBERS = (
    "curl -s --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/apiserver-etcd-client.crt "
    "--key /etc/kubernetes/pki/apiserver-etcd-client.key -X POST -d '{}' https://127.0.0.1:2379/v3/cluster/member/list"
)


def cluster_nodes(cp) -> list[str]:
    return sorted(n["metadata"]["name"] for n in kubectl_json(cp, "get", "nodes")["items"])


def etcd_members(cp) -> list[str]:
    result = cp.run(ETCD_MEMBERS)
    assert result.rc == 0, result.stderr
    return sorted(member["name"] for member in json.loads(result.stdout)["members"])


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"not within {timeout}s: {what}")


def remove(node: str, *extra: str, env: dict | None = None):
    return playbook("playbooks/remove_node.yml", "-e", f"node={node}", *extra, inventory="nodes-ha", env=env)


def schedulable(cp) -> list[str]:
    return sorted(
        n["metadata"]["name"] for n in kubectl_json(cp, "get", "nodes")["items"] if not n["spec"].get("unschedulable")
    )


def refused_removal(run, message: str, nodes: list[str]) -> None:
    """As refused(), of what remove_node.yml writes, and every Node still there and schedulable."""
    refused(run, message, written=REMOVAL_WRITES)
    assert schedulable(node_host("kf-node-1")) == nodes


def test_every_node_reaches_the_api_through_its_own_haproxy():
    delete_probes(node_host("kf-node-1"))  # bare pods: a drain would refuse them
    for name in NODES:
        host = node_host(name)
        assert host.service("haproxy").is_running and host.service("haproxy").is_enabled, name
        assert host.socket(f"tcp://{ENDPOINT}").is_listening, name
        config = host.file("/etc/haproxy/haproxy.cfg").content_string
        assert "server 198.18.0.11_6443 198.18.0.11:6443 check" in config, name
        assert "server 198.18.0.12_6443 198.18.0.12:6443 check" in config, name
        # A control plane's kubelet talks to its own API server (kubeadm's ControlPlaneKubeletLocalMode), a worker's
        # to the endpoint; admin.conf is the endpoint's.
        kubeconfig = "kubelet.conf" if name == "kf-node-3" else "admin.conf"
        assert f"server: https://{ENDPOINT}" in host.file(f"/etc/kubernetes/{kubeconfig}").content_string, name
    # kube-proxy's kubeconfig is cluster-wide: every node's kube-proxy goes through its own HAProxy.
    kube_proxy = kubectl_json(node_host("kf-node-1"), "-n", "kube-system", "get", "configmap", "kube-proxy")
    assert f"server: https://{ENDPOINT}" in kube_proxy["data"]["kubeconfig.conf"]


def test_the_api_survives_the_first_control_plane(capsys):
    first, second, worker = (node_host(name) for name in NODES)
    lease = "-n kube-node-lease get lease kf-node-3 -o jsonpath={.spec.renewTime}"
    # The static pod's manifest out: its kubelet stops the API server; then the kubelet itself.
    assert first.run("mv /etc/kubernetes/manifests/kube-apiserver.yaml /root/kube-apiserver.yaml").rc == 0
    try:
        wait_until(lambda: first.run("ss -Hltn 'sport = :6443'").stdout.strip() == "", 90, "kf-node-1's :6443 closed")
        assert first.run("systemctl stop kubelet").rc == 0
        stopped = time.monotonic()
        before = second.run(f"{ADMIN} {lease}").stdout
        # Through the endpoint on the other control plane, on the worker with the kubelet's own credentials.
        wait_until(lambda: second.run(f"{ADMIN} get --raw /readyz").stdout == "ok", 30, "the API through kf-node-2")
        own_node = worker.run("kubectl --kubeconfig /etc/kubernetes/kubelet.conf get node kf-node-3 -o name")
        assert own_node.rc == 0 and own_node.stdout.strip() == "node/kf-node-3", own_node.stderr
        answered = time.monotonic() - stopped
        created = second.run(
            f"{ADMIN} run kf-failover --image=kubeforge.test/probe:v1 --image-pull-policy=Never --restart=Never "
            """--overrides='{"spec": {"nodeSelector": {"kubernetes.io/hostname": "kf-node-3"}}}' -- sleep 3600"""
        )
        assert created.rc == 0, created.stderr
        # Scheduled once the second scheduler holds the lease the stopped one cannot renew.
        ready = second.run(f"{ADMIN} wait --for=condition=Ready pod/kf-failover --timeout=120s")
        assert ready.rc == 0, ready.stderr
        running = time.monotonic() - stopped
        # The worker's kubelet renewed its lease through its HAProxy (every 10 s) and the node stays Ready.
        wait_until(lambda: second.run(f"{ADMIN} {lease}").stdout != before, 30, "kf-node-3's lease renewed")
        node = kubectl_json(second, "get", "node", "kf-node-3")
        assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
        with capsys.disabled():
            print(f"\nfailover: API answered {answered:.1f}s, a new pod Running {running:.1f}s after the stop")
    finally:
        first.run("mv /root/kube-apiserver.yaml /etc/kubernetes/manifests/kube-apiserver.yaml; systemctl start kubelet")
        second.run(f"{ADMIN} delete pod kf-failover --ignore-not-found --grace-period=0")
    wait_until(
        lambda: first.run(f"{ADMIN} --server https://198.18.0.11:6443 get --raw /readyz").stdout == "ok",
        180,
        "kf-node-1's API server back",
    )


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ("kf-node-9", "node=kf-node-9 is neither a Node of the cluster (kf-node-1, kf-node-2, kf-node-3) nor a host"),
        ("kf-node-1", "kf-node-1 is first in the control_plane group, where site.yml runs kubeadm init"),
    ],
    ids=["unknown", "first-control-plane"],
)
def test_remove_node_refuses_before_any_change(node, message):
    stamp_nodes()
    refused_removal(remove(node), message, NODES)


def test_remove_node_in_check_mode_says_what_it_would_do_and_changes_nothing():
    stamp_nodes()
    run = remove("kf-node-3", "--check")
    assert run.rc == 0, run.tail()
    text = " ".join(run.output.split())
    assert "check mode: would drain and delete the Node kf-node-3, reset its host" in text, run.tail()
    assert run.recap["kf-node-1"]["changed"] == 1 and run.recap["kf-node-3"]["changed"] == 0, run.recap
    assert written_since_stamp(REMOVAL_WRITES) == {name: [] for name in NODES}
    assert schedulable(node_host("kf-node-1")) == NODES


def test_a_drain_held_by_a_disruption_budget_stops_and_says_so():
    cp = node_host("kf-node-1")
    held = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "kf-held", "namespace": "default"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "kf-held"}},
                    "template": {
                        "metadata": {"labels": {"app": "kf-held"}},
                        "spec": {
                            "nodeSelector": {"kubernetes.io/hostname": "kf-node-3"},
                            "terminationGracePeriodSeconds": 0,
                            "containers": [
                                {
                                    "name": "probe",
                                    "image": "kubeforge.test/probe:v1",
                                    "imagePullPolicy": "Never",
                                    "command": ["sleep", "3600"],
                                }
                            ],
                        },
                    },
                },
            },
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "kf-held", "namespace": "default"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "kf-held"}}},
            },
        ],
    }
    assert cp.run(f"echo '{json.dumps(held)}' | {ADMIN} apply -f -").rc == 0
    try:
        assert cp.run(f"{ADMIN} rollout status deployment/kf-held --timeout=120s").rc == 0
        run = remove("kf-node-3", "-e", "remove_node_drain_timeout=15")
        text = " ".join(run.output.split())
        assert run.rc != 0, run.tail()
        assert "a PodDisruptionBudget does not allow evicting default/kf-held-" in text, run.tail()
        assert "kf-node-3 stays cordoned (kubectl uncordon kf-node-3 undoes that)" in text, run.tail()
        assert cluster_nodes(cp) == NODES
        assert "kf-node-3" not in schedulable(cp), "left cordoned, as the message says"
        assert cp.run(f"{ADMIN} get pods -l app=kf-held --field-selector spec.nodeName=kf-node-3 -o name").stdout
        assert node_host("kf-node-3").file("/etc/kubernetes/kubelet.conf").exists, "its host was not reset"
    finally:
        cp.run(f"{ADMIN} delete deployment/kf-held pdb/kf-held --ignore-not-found")
        cp.run(f"{ADMIN} uncordon kf-node-3")


def test_an_unreachable_worker_is_refused_then_removed_from_the_cluster_with_force():
    cp = node_host("kf-node-1")
    # Its cable pulled (the bridge's end of its link down): neither Ansible nor the control plane reaches it, and
    # its own addresses and routes stay as they were.
    cable = ["ip", "-n", NETNS, "link", "set", veth_name("kf-node-3")]
    down = subprocess.run([*cable, "down"], capture_output=True, text=True, check=False)
    assert down.returncode == 0, down.stderr
    try:
        unreachable = ("-e", "ansible_ssh_timeout=5", "-e", "ansible_ssh_retries=0")
        # A fresh SSH connection each: the one the last run left open (ControlPersist) would wait for TCP to give up.
        fresh = {"ANSIBLE_SSH_ARGS": "-C -o ControlMaster=no"}
        refusal = remove("kf-node-3", *unreachable, env=fresh)
        assert refusal.rc != 0 and refusal.changed == 0, refusal.tail()
        assert "kf-node-3 cannot be reached" in " ".join(refusal.output.split()), refusal.tail()
        assert cluster_nodes(cp) == NODES

        forced = remove("kf-node-3", *unreachable, "-e", "remove_node_force=true", env=fresh)
        assert forced.rc == 0, forced.tail()
        assert "its host could not be cleaned (unreachable)" in " ".join(forced.output.split()), forced.tail()
        assert "kf-node-3" not in cluster_nodes(cp)
    finally:
        up = subprocess.run([*cable, "up"], capture_output=True, text=True, check=False)
        assert up.returncode == 0, up.stderr


def test_removing_the_worker_again_resets_its_host_and_cleans_what_the_cni_left():
    cp, host = node_host("kf-node-1"), node_host("kf-node-3")
    # Its kubelet may have registered the Node again meanwhile: the run then drains and deletes it once more.
    run = remove("kf-node-3")
    assert run.rc == 0, run.tail()
    assert "kf-node-3" not in cluster_nodes(cp)
    assert not host.file("/etc/kubernetes/kubelet.conf").exists
    for device in ("cni0", "flannel.1", "flannel-v6.1"):
        assert link(host, device) is None, device
    for family, network in zip((4, 6), POD_NETWORKS, strict=True):
        assert host.run(f"ip -{family} route show root {network}").stdout.strip() == "", network
    assert host.run("find /etc/cni/net.d /var/lib/cni /run/flannel -mindepth 1 2>/dev/null").stdout.strip() == ""
    assert host.run("ls /run/containerd/io.containerd.runtime.v2.task/k8s.io 2>/dev/null").stdout.strip() == ""
    again = remove("kf-node-3")
    assert again.rc == 0 and again.changed == 0, again.tail()


def test_site_with_limit_joins_the_removed_worker_alone():
    cp = node_host("kf-node-1")
    run = playbook("site.yml", *HA, "--limit", "kf-node-3", inventory="nodes-ha")
    assert run.rc == 0, run.tail()
    assert set(run.recap) == {"kf-node-3"} and run.recap["kf-node-3"]["changed"] > 0, run.recap
    assert cp.run(f"{ADMIN} wait --for=condition=Ready node/kf-node-3 --timeout=180s").rc == 0
    assert cluster_nodes(cp) == NODES


def test_removing_a_control_plane_removes_its_etcd_member():
    cp, host = node_host("kf-node-1"), node_host("kf-node-2")
    assert etcd_members(cp) == ["kf-node-1", "kf-node-2"]
    run = remove("kf-node-2")
    assert run.rc == 0, run.tail()
    assert cluster_nodes(cp) == ["kf-node-1", "kf-node-3"]
    assert etcd_members(cp) == ["kf-node-1"]
    assert not host.file("/etc/kubernetes/manifests/kube-apiserver.yaml").exists
    assert host.run("ls -A /var/lib/etcd 2>/dev/null").stdout.strip() == ""
    # One member left is a quorum: the API answers through every node's HAProxy.
    assert node_host("kf-node-3").run("kubectl --kubeconfig /etc/kubernetes/kubelet.conf get node kf-node-3").rc == 0


def test_the_last_control_plane_is_refused():
    stamp_nodes()
    refused_removal(remove("kf-node-1"), "kf-node-1 is the cluster's last control plane", ["kf-node-1", "kf-node-3"])


def test_site_joins_the_removed_control_plane_again_and_changes_nothing_else():
    cp = node_host("kf-node-1")
    run = playbook("site.yml", *HA, inventory="nodes-ha")
    assert run.rc == 0, run.tail()
    recap = run.recap
    assert recap["kf-node-1"]["changed"] == 0 and recap["kf-node-3"]["changed"] == 0, run.changed_tasks
    assert recap["kf-node-2"]["changed"] > 0, recap
    assert cp.run(f"{ADMIN} wait --for=condition=Ready node --all --timeout=180s").rc == 0
    assert etcd_members(cp) == ["kf-node-1", "kf-node-2"]
