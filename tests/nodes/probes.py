"""Probes of the data plane on the real nodes: devices, routes, and pings between pods on different nodes, per
address family (IPv4, and IPv6 on a dual-stack cluster), counted on the device the packets must cross."""

from __future__ import annotations

import ipaddress
import json
import shlex
from collections.abc import Callable

from tests.helpers.nodes import ADMIN, kubectl_json, node_host

NAMESPACE = "kubeforge-probe"
# Built by tools/images.py from busybox (sh, ping, sleep); there is no registry, so it is never pulled.
PROBE_IMAGE = "kubeforge.test/probe:v1"


def family(address: str) -> int:
    """4 or 6, of an address or a CIDR."""
    return ipaddress.ip_network(address, strict=False).version


def link(host, device: str) -> dict | None:
    result = host.run(f"ip -d -j link show dev {shlex.quote(device)}")
    return json.loads(result.stdout)[0] if result.rc == 0 else None


def flannel_routes(host, destinations: list[str], ip_family: int = 4) -> dict[str, dict]:
    """The node's routes (of that family) to the given pod subnets (those of the other nodes)."""
    routes = json.loads(host.run(f"ip -j -{ip_family} route show").stdout)
    return {route["dst"]: route for route in routes if route.get("dst") in destinations}


def node_addresses(control_plane, ip_family: int = 4) -> dict[str, tuple[str, str]]:
    """node -> (its podCIDR, its InternalIP) of that family (a dual-stack node has one of each per family)."""
    found = {}
    for node in kubectl_json(control_plane, "get", "nodes")["items"]:
        cidrs = node["spec"].get("podCIDRs") or [node["spec"]["podCIDR"]]
        internal = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
        found[node["metadata"]["name"]] = (
            next(c for c in cidrs if family(c) == ip_family),
            next(a for a in internal if family(a) == ip_family),
        )
    return found


# Packet counters: node -> (sent, received), read before and after the pings.
Counter = Callable[[str], tuple[int, int]]


def device_packets(device: str) -> Counter:
    """What the device itself counts (/sys/class/net/DEV/statistics): every packet through a flannel device is pod
    traffic (flannel.1 for IPv4, flannel-v6.1 for IPv6, flannel0 for udp)."""

    def read(name: str) -> tuple[int, int]:
        stats = f"/sys/class/net/{shlex.quote(device)}/statistics"
        result = node_host(name).run(f"cat {stats}/tx_packets {stats}/rx_packets")
        return tuple(int(v) for v in result.stdout.split()) if result.rc == 0 else (-1, -1)

    return read


def ipv6_forwarded(device: str = "eth0") -> Counter:
    """The kernel's per-interface IPv6 counters (/proc/net/dev_snmp6/DEV): sent = Ip6OutForwDatagrams, the IPv6
    packets the node forwarded out of DEV (pod traffic only: neighbour discovery and the node's own packets are
    Ip6OutRequests), received = Ip6InReceives (every IPv6 packet in, neighbour discovery too). With host-gw the pods'
    IPv6 packets leave through the NIC itself, so this is how they are counted there."""

    def read(name: str) -> tuple[int, int]:
        result = node_host(name).run(f"cat /proc/net/dev_snmp6/{shlex.quote(device)}")
        if result.rc != 0:
            return (-1, -1)
        stats = dict(line.split() for line in result.stdout.splitlines() if line.strip())
        return int(stats["Ip6OutForwDatagrams"]), int(stats["Ip6InReceives"])

    return read


def probe_pods(nodes: list[str]) -> str:
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"probe-{node}", "namespace": NAMESPACE, "labels": {"app": "kubeforge-probe"}},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {"name": "probe", "image": PROBE_IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}
                ],
            },
        }
        for node in nodes
    ]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [namespace, *pods]})


def start_probe_pods(control_plane, nodes: list[str]) -> dict[str, dict]:
    """One fresh probe pod per node (any earlier ones deleted first), Ready: node -> {"ip": …, "ips": […], "uid": …}."""
    control_plane.run(f"{ADMIN} delete namespace {NAMESPACE} --ignore-not-found --wait=true")
    applied = control_plane.run(f"echo {shlex.quote(probe_pods(nodes))} | {ADMIN} apply -f -")
    assert applied.rc == 0, applied.stderr
    ready = control_plane.run(f"{ADMIN} -n {NAMESPACE} wait --for=condition=Ready pod --all --timeout=120s")
    assert ready.rc == 0, ready.stdout + ready.stderr
    return running_probe_pods(control_plane)


def running_probe_pods(control_plane) -> dict[str, dict]:
    """node -> {"ip": the primary (IPv4) podIP, "ips": every podIP (both families on a dual-stack cluster), "uid"}."""
    return {
        pod["spec"]["nodeName"]: {
            "ip": pod["status"].get("podIP"),
            "ips": [entry["ip"] for entry in pod["status"].get("podIPs", [])],
            "uid": pod["metadata"]["uid"],
        }
        for pod in kubectl_json(control_plane, "-n", NAMESPACE, "get", "pods")["items"]
    }


def pod_ips(pods: dict[str, dict], ip_family: int = 4) -> dict[str, str]:
    """node -> its probe pod's address of that family."""
    return {node: next(ip for ip in pod["ips"] if family(ip) == ip_family) for node, pod in pods.items()}


def cross_node_pings(
    control_plane, nodes: list[str], device: str | None, ip_family: int = 4, counter: Counter | None = None
) -> dict:
    """Starts one probe pod per node, then pings every pod (at its address of `ip_family`) from every other node's
    pod and from every other node itself. Returns the failures and the packets counted on `device` (or `counter`)."""
    pods = start_probe_pods(control_plane, nodes)
    return pings_between(control_plane, nodes, pod_ips(pods, ip_family), device, counter=counter)


def pings_between(
    control_plane, nodes: list[str], ips: dict[str, str], device: str | None, counter: Counter | None = None
) -> dict:
    """Pings every probe pod (IPS: node -> pod IP, either family) from every other node's probe pod and from every
    other node. With `device` (or `counter`), also what each node counted: tx_delta and rx_delta, and
    `expected`, the packets each node must at least have sent and received across nodes for the pod-to-pod
    pings that succeeded (each echo request and its reply cross both nodes' devices once)."""
    counter = counter or (device_packets(device) if device else None)
    before = {node: counter(node) for node in nodes} if counter else {}
    failures = []
    expected = dict.fromkeys(nodes, 0)
    count = 2
    for source in nodes:
        for target in nodes:
            if source == target:
                continue
            ping = f"ping -c {count} -W 2 {ips[target]}"
            from_pod = control_plane.run(f"{ADMIN} -n {NAMESPACE} exec probe-{source} -- {ping}")
            if from_pod.rc != 0:
                failures.append(
                    f"pod on {source} -> pod on {target} ({ips[target]}): {from_pod.stdout}{from_pod.stderr}"
                )
            else:
                expected[source] += count
                expected[target] += count
            # The nodes have busybox-static, not iputils.
            from_node = node_host(source).run(f"busybox {ping}")
            if from_node.rc != 0:
                failures.append(
                    f"node {source} -> pod on {target} ({ips[target]}): {from_node.stdout}{from_node.stderr}"
                )
    after = {node: counter(node) for node in nodes} if counter else {}
    return {
        "failures": failures,
        "pod_ips": ips,
        "tx_delta": {n: after[n][0] - before[n][0] for n in before},
        "rx_delta": {n: after[n][1] - before[n][1] for n in before},
        "expected": expected if counter else {},
    }


def counted_at_least(results: dict) -> list[str]:
    """The nodes whose counter rose by less than the pings that crossed it (empty: every packet was counted)."""
    return [
        f"{node}: sent {results['tx_delta'][node]}, received {results['rx_delta'][node]}, pings crossing it {want}"
        for node, want in results["expected"].items()
        if results["tx_delta"][node] < want or results["rx_delta"][node] < want
    ]


def delete_probes(control_plane) -> None:
    control_plane.run(f"{ADMIN} delete namespace {NAMESPACE} --ignore-not-found --wait=false")
