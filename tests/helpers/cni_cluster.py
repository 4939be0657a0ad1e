"""The local cluster as the CNI tests read it: object state as the API server holds it, through kubectl."""

from __future__ import annotations

import json

from tests.helpers.ansible import run_module

POD_CIDR = "10.244.0.0/16"  # the local cluster's (tests/conftest.py)
PSK = "pXW2Yh4j8bqvZ0cNc0q1o2iHn0m6g0cQW1K7o1Xx6kA="
FLANNEL_LIKE = {
    "flannel": ("kube-flannel", "kube-flannel-cfg", "kube-flannel-ds", "app=flannel"),
    "canal": ("kube-system", "canal-config", "canal", "k8s-app=canal"),
}
CALICO = ("kube-system", "calico-config", "calico-node", "k8s-app=calico-node")


class Cluster:
    """Object state as the API server holds it."""

    def __init__(self, kubectl, local_cluster, upstream):
        self.kubectl = kubectl
        self.kubeconfig = local_cluster.kubeconfig
        self.upstream = upstream

    def module(self, module="cni_config", check=False, diff=False, **args):
        if module == "cni_config":
            args.setdefault("manifest_mirror", str(self.upstream))
        return run_module(module, args, self.kubeconfig, check=check, diff=diff)

    def configmap(self, namespace, name):
        return self.kubectl.json("get", "configmap", "-n", namespace, name)["data"]

    def net_conf(self, cni):
        namespace, configmap, _, _ = FLANNEL_LIKE[cni]
        return json.loads(self.configmap(namespace, configmap)["net-conf.json"])

    def daemonset(self, namespace, name):
        return self.kubectl.json("get", "daemonset", "-n", namespace, name)

    def pods(self, namespace, selector):
        return self.kubectl.json("get", "pods", "-n", namespace, "-l", selector)["items"]

    def pod_uids(self, namespace, selector):
        return {pod["metadata"]["uid"] for pod in self.pods(namespace, selector)}

    def nodes(self):
        return {node["metadata"]["name"] for node in self.kubectl.json("get", "nodes")["items"]}

    def pool(self):
        return self.kubectl.json("get", "ippools.crd.projectcalico.org", "default-ipv4-ippool")["spec"]

    def calico_node(self):
        pod = self.daemonset("kube-system", "calico-node")["spec"]["template"]["spec"]
        return next(c for c in pod["containers"] if c["name"] == "calico-node")

    def resource_versions(self, *refs):
        versions = {}
        for kind, namespace, name in refs:
            args = ["get", kind, name] + (["-n", namespace] if namespace else [])
            versions[(kind, name)] = self.kubectl.json(*args)["metadata"]["resourceVersion"]
        return versions
