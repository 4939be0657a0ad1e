"""Probes of the data plane on the real nodes: devices, routes, and pings between pods on different nodes."""

from __future__ import annotations

import json
import shlex

from tests.helpers.nodes import ADMIN, kubectl_json, node_host

NAMESPACE = "kubeforge-probe"
# Built by tools/images.py from busybox (sh, ping, sleep); there is no registry, so it is never pulled.
PROBE_IMAGE = "kubeforge.test/probe:v1"


def link(host, device: str) -> dict | None:
    result = host.run(f"ip -d -j link show dev {shlex.quote(device)}")
    return json.loads(result.stdout)[0] if result.rc == 0 else None


def flannel_routes(host, destinations: list[str]) -> dict[str, dict]:
    """The node's routes to the given pod subnets (those of the other nodes)."""
    routes = json.loads(host.run("ip -j route show").stdout)
    return {route["dst"]: route for route in routes if route.get("dst") in destinations}


def tx_packets(name: str, device: str) -> int:
    result = node_host(name).run(f"cat /sys/class/net/{shlex.quote(device)}/statistics/tx_packets")
    return int(result.stdout) if result.rc == 0 else -1


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
    """One fresh probe pod per node (any earlier ones deleted first), Ready: node -> {"ip": …, "uid": …}."""
    control_plane.run(f"{ADMIN} delete namespace {NAMESPACE} --ignore-not-found --wait=true")
    applied = control_plane.run(f"echo {shlex.quote(probe_pods(nodes))} | {ADMIN} apply -f -")
    assert applied.rc == 0, applied.stderr
    ready = control_plane.run(f"{ADMIN} -n {NAMESPACE} wait --for=condition=Ready pod --all --timeout=120s")
    assert ready.rc == 0, ready.stdout + ready.stderr
    return running_probe_pods(control_plane)


def running_probe_pods(control_plane) -> dict[str, dict]:
    return {
        pod["spec"]["nodeName"]: {"ip": pod["status"].get("podIP"), "uid": pod["metadata"]["uid"]}
        for pod in kubectl_json(control_plane, "-n", NAMESPACE, "get", "pods")["items"]
    }


def cross_node_pings(control_plane, nodes: list[str], device: str | None) -> dict:
    """Starts one probe pod per node, then pings every pod from every other node's pod and from every other
    node itself. Returns the failures and, for `device`, how many packets each node sent through it."""
    pods = start_probe_pods(control_plane, nodes)
    return pings_between(control_plane, nodes, {node: pod["ip"] for node, pod in pods.items()}, device)


def pings_between(control_plane, nodes: list[str], ips: dict[str, str], device: str | None) -> dict:
    """Pings every probe pod (IPS: node -> pod IP) from every other node's probe pod and from every other node."""
    before = {node: tx_packets(node, device) for node in nodes} if device else {}
    failures = []
    for source in nodes:
        for target in nodes:
            if source == target:
                continue
            ping = f"ping -c 2 -W 2 {ips[target]}"
            from_pod = control_plane.run(f"{ADMIN} -n {NAMESPACE} exec probe-{source} -- {ping}")
            if from_pod.rc != 0:
                failures.append(
                    f"pod on {source} -> pod on {target} ({ips[target]}): {from_pod.stdout}{from_pod.stderr}"
                )
            # The nodes have busybox-static, not iputils.
            from_node = node_host(source).run(f"busybox {ping}")
            if from_node.rc != 0:
                failures.append(
                    f"node {source} -> pod on {target} ({ips[target]}): {from_node.stdout}{from_node.stderr}"
                )
    after = {node: tx_packets(node, device) for node in nodes} if device else {}
    return {"failures": failures, "pod_ips": ips, "tx_delta": {n: after[n] - before[n] for n in before}}


def delete_probes(control_plane) -> None:
    control_plane.run(f"{ADMIN} delete namespace {NAMESPACE} --ignore-not-found --wait=false")
