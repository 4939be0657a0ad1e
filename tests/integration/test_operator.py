"""Calico installed by the Tigera operator, on the real control plane: cni_config installs the operator from its
release files and configures Calico through the Installation only; cni_info reads it from there.

The operator cannot be built here (its `api` submodule is not served by the Go module proxy), so its Deployment is
a kwok pod that reconciles nothing. Two things it would do are done by the test bed instead: `OperatorStatus`
reports the Installation Ready for each new generation, as the operator does once calico-node has rolled out, and
the calico-system/calico-node DaemonSet it creates is made by the tests that need it. Everything else - its CRDs,
its manifest, the Installation - is upstream's, and the CRDs' schemas validate what cni_config writes."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.helpers.ansible import describe_writes, run_module
from tests.helpers.cni_cluster import POD_CIDR
from tests.integration.test_site import playbook

OPERATOR_OWNED = ("ippools", "felixconfigurations", "daemonsets", "configmaps")


class OperatorStatus:
    """Reports each new generation of Installation default as the operator does: a Ready (or Degraded) condition
    with its observedGeneration, written to the status subresource."""

    def __init__(self, kubectl):
        self.kubectl = kubectl
        self.condition = "Ready"
        self.reported = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _loop(self):
        while not self._stop.wait(0.3):
            found = self.kubectl.run("get", "installation", "default", "-o", "json", check=False)
            if found.returncode != 0:
                continue
            installation = json.loads(found.stdout)
            generation = installation["metadata"]["generation"]
            if generation in self.reported:
                continue
            condition = {
                "type": self.condition,
                "status": "True",
                "reason": "AllObjectsAvailable" if self.condition == "Ready" else "ResourceValidationError",
                "message": "" if self.condition == "Ready" else "IPIP is not supported with this dataplane",
                "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "observedGeneration": generation,
            }
            status = {"status": {"calicoVersion": "v3.32.1", "conditions": [condition]}}
            patched = self.kubectl.run(
                "patch",
                "installation",
                "default",
                "--subresource=status",
                "--type=merge",
                "-p",
                json.dumps(status),
                check=False,
            )
            if patched.returncode == 0:
                self.reported.append(generation)


@pytest.fixture
def operator_status(kubectl):
    with OperatorStatus(kubectl) as reporter:
        yield reporter


def calico_system_daemonset(namespace="calico-system"):
    labels = {"k8s-app": "calico-node"}
    container = {"name": "calico-node", "image": "quay.io/calico/node:v3.32.1"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def installation(kubectl):
    return kubectl.json("get", "installation", "default")


def writes(audit, since):
    """The writes since the offset, but OperatorStatus's: the operator's, not the module's. Read once per offset
    (the audit marker it writes ends the span)."""
    events = audit.writes_since(since)
    return describe_writes([e for e in events if e["objectRef"].get("subresource") != "status"])


def test_the_operator_is_installed_and_calico_switched_through_its_installation_only(
    cluster, audit, kubectl, operator_status
):
    install = {"cni": "calico", "installer": "operator", "backend": "vxlan", "mtu": 1400}
    install.update(node_address="interface=eth1", image_registry="registry.example.com/mirror")
    since = audit.offset()
    checked = cluster.module(check=True, **install)
    assert not checked["failed"], checked["msg"]
    assert checked["changed"] and "Installation default" in checked["created"]
    assert writes(audit, since) == []

    since = audit.offset()
    installed = cluster.module(**install)
    assert not installed["failed"], installed["msg"]
    assert installed["changed"] and installed["managed_by"] == "tigera-operator"
    assert {"Deployment tigera-operator/tigera-operator", "Installation default"} <= set(installed["created"])
    assert installed["created"] == checked["created"]
    spec = installation(kubectl)["spec"]
    assert spec["registry"] == "registry.example.com/mirror/"
    network = dict(spec["calicoNetwork"])
    pools = network.pop("ipPools")
    assert network == {"bgp": "Disabled", "mtu": 1400, "nodeAddressAutodetectionV4": {"interface": "^eth1$"}}
    written = {
        "name": "default-ipv4-ippool",
        "cidr": POD_CIDR,
        "blockSize": 26,
        "encapsulation": "VXLAN",
        "natOutgoing": "Enabled",
        "nodeSelector": "all()",
    }
    # The CRD's schema adds its defaults (disableBGPExport: false, ...) to the one pool.
    assert len(pools) == 1 and {key: pools[0][key] for key in written} == written
    operator = kubectl.json("get", "deployment", "-n", "tigera-operator", "tigera-operator")
    images = [c["image"] for c in operator["spec"]["template"]["spec"]["containers"]]
    assert images == ["registry.example.com/mirror/tigera/operator:v1.42.3"]
    assert not any(w.split(" ")[1].split("/")[0] in OPERATOR_OWNED for w in writes(audit, since))

    since = audit.offset()
    again = cluster.module(**install)
    assert not again["failed"] and not again["changed"], again
    assert again["api_requests"]["write"] == 0 and writes(audit, since) == []

    info = cluster.module("cni_info", cni="calico")
    found = {key: info[key] for key in ("cni", "managed_by", "version", "backend", "encapsulation", "pod_cidr")}
    assert found == {
        "cni": "calico",
        "managed_by": "tigera-operator",
        "version": "v3.32.1",
        "backend": "vxlan",
        "encapsulation": "Always",
        "pod_cidr": POD_CIDR,
    }

    # To IP-in-IP across subnets through cni_config, check mode and diff first.
    switch = {"cni": "calico", "backend": "ipip", "encapsulation": "CrossSubnet"}
    since = audit.offset()
    preview = cluster.module(check=True, diff=True, **switch)
    assert preview["changed"] and preview["updated"] == ["Installation default"], preview
    assert "encapsulation: IPIPCrossSubnet" in preview["stdout_of_run"] and "bgp: Enabled" in preview["stdout_of_run"]
    assert writes(audit, since) == [] and installation(kubectl)["spec"]["calicoNetwork"]["bgp"] == "Disabled"
    since = audit.offset()
    switched = cluster.module(**switch)
    assert not switched["failed"], switched["msg"]
    assert (switched["previous_backend"], switched["backend"], switched["updated"]) == (
        "vxlan",
        "ipip",
        ["Installation default"],
    )
    assert writes(audit, since) == ["patch installations/default"]
    network = installation(kubectl)["spec"]["calicoNetwork"]
    assert (network["ipPools"][0]["encapsulation"], network["bgp"]) == ("IPIPCrossSubnet", "Enabled")
    assert network["mtu"] == 1400 and network["nodeAddressAutodetectionV4"] == {"interface": "^eth1$"}
    assert installation(kubectl)["metadata"]["generation"] in operator_status.reported

    # And back to VXLAN through switch_backend.yml: the cni_backend role finds the operator install itself.
    extra = json.dumps({"cni_backend": "vxlan", "cni_verify_when": "never"})
    since = audit.offset()
    back = playbook("playbooks/switch_backend.yml", "-e", extra, "--diff")
    assert back.rc == 0 and back.changed > 0, back.output[-3000:]
    assert "encapsulation: VXLAN" in back.output
    network = installation(kubectl)["spec"]["calicoNetwork"]
    assert (network["ipPools"][0]["encapsulation"], network["bgp"]) == ("VXLAN", "Disabled")
    assert writes(audit, since) == ["patch installations/default"]
    since = audit.offset()
    again = playbook("playbooks/switch_backend.yml", "-e", extra)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    assert writes(audit, since) == []

    # WireGuard: FelixConfiguration's wireguardEnabled, as Calico documents for operator installs; nothing else.
    since = audit.offset()
    on = cluster.module(cni="calico", backend="vxlan", wireguard=True)
    assert not on["failed"], on["msg"]
    assert (
        on["wireguard"]
        and on["mtu_overhead"] == 110
        and on["updated"] + on["created"] == ["FelixConfiguration default"]
    )
    felix = kubectl.json("get", "felixconfigurations.crd.projectcalico.org", "default")
    felix["spec"].pop("nftablesMode")  # the CRD's default
    assert felix["spec"] == {"wireguardEnabled": True}
    off = cluster.module(cni="calico", backend="vxlan", wireguard=False)
    assert not off["wireguard"] and off["updated"] == ["FelixConfiguration default"]
    assert writes(audit, since) == ["patch felixconfigurations/default", "patch felixconfigurations/default"]

    # What an operator install cannot do as asked, refused before any write.
    since = audit.offset()
    refusals = [
        ({"installer": "manifest"}, "installer=manifest would install calico.yaml beside it"),
        ({"restart": "always"}, "restart=always: on an install by the Tigera operator the operator rolls calico-node"),
        ({"version": "v3.30.7"}, "Calico v3.32.1 is installed by the Tigera operator, which upgrades it"),
        (
            {"manifest_path": str(cluster.upstream / "calico/v3.32.1/calico.yaml")},
            "manifest_url and manifest_path name calico.yaml of a manifest",
        ),
    ]
    for given, message in refusals:
        args = dict(given, cni="calico", backend="vxlan")
        if "manifest_path" not in args:
            args["manifest_mirror"] = str(cluster.upstream)
        refused = run_module("cni_config", args, cluster.kubeconfig)
        assert refused["failed"] and message in refused["msg"], (args, refused["msg"])
    beside = cluster.module(cni="flannel")
    assert beside["failed"] and "does not install flannel beside it" in beside["msg"]
    assert writes(audit, since) == []

    # The operator's reports decide the wait: a Degraded one fails the switch with the operator's message...
    operator_status.condition = "Degraded"
    degraded = cluster.module(cni="calico", backend="ipip", wait_timeout=20)
    assert degraded["failed"] and degraded["updated"] == ["Installation default"]
    assert degraded["msg"] == (
        "the Tigera operator reports Installation default Degraded: IPIP is not supported with this dataplane; see "
        "kubectl get tigerastatus calico"
    )
    # ...and none at all times out naming the generation waited for.
    operator_status.stop()
    generation = installation(kubectl)["metadata"]["generation"] + 1
    silent = cluster.module(cni="calico", backend="bgp", wait_timeout=3)
    assert silent["failed"] and silent["updated"] == ["Installation default"]
    assert silent["msg"].startswith(
        f"the Tigera operator did not report Installation default Ready for generation {generation} within 3s"
    )
    # calico-node is the operator's to create, never the module's.
    assert kubectl.json("get", "daemonsets", "--all-namespaces")["items"] == []


def test_an_operator_and_a_manifest_calico_at_once_are_refused_and_a_manifest_install_not_taken_over(
    cluster, audit, kubectl
):
    kubectl.run("apply", "-f", "-", stdin=json.dumps(calico_system_daemonset("kube-system")))
    since = audit.offset()
    refused = cluster.module(cni="calico", installer="operator")
    assert refused["failed"]
    assert refused["msg"].startswith(
        "Calico is installed from its manifest here (DaemonSet kube-system/calico-node); installer=operator would "
        "start the operator's calico-node beside it"
    )
    assert writes(audit, since) == []
    kubectl.run("create", "namespace", "calico-system")
    kubectl.run("apply", "-f", "-", stdin=json.dumps(calico_system_daemonset()))
    since = audit.offset()
    both = cluster.module(cni="calico")
    assert both["failed"]
    assert both["msg"].startswith(
        "Calico runs twice: the Tigera operator's (DaemonSet calico-system/calico-node) and calico's manifest install "
        "(DaemonSet kube-system/calico-node); remove one of them"
    )
    assert writes(audit, since) == []
