# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live cluster, read once and shared by cni_config and cni_info: which CNI is installed, its
ConfigMap and DaemonSet, the family's own objects, kubeadm's pod subnet and the nodes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeforge.cluster.plugins.module_utils.calico import IPPOOL_API, CalicoDriver
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import CNI_NAMES, CNIS, cni_spec
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, LiveStateError
from ansible_collections.kubeforge.cluster.plugins.module_utils.flannel import FlannelDriver
from ansible_collections.kubeforge.cluster.plugins.module_utils.pod_cidr import kubeadm_pod_subnet

DRIVERS = {"flannel": FlannelDriver, "calico": CalicoDriver}
KUBEADM_CONFIG = ("kube-system", "kubeadm-config")
FLANNEL_PUBLIC_IPV6 = "flannel.alpha.coreos.com/public-ipv6"


def driver_for(cni):
    return DRIVERS[cni_spec(cni)["networking"]](cni)


def node_summary(node):
    """A node as the modules report it: Ready, kubelet version, address, podCIDR, architecture."""
    status = node.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    addresses = [a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"]
    spec = node.get("spec") or {}
    return {
        "name": node["metadata"]["name"],
        "ready": bool(ready) and ready[0].get("status") == "True",
        "kubelet_version": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        "internal_ip": addresses[0] if addresses else None,
        "pod_cidr": spec.get("podCIDR"),
        # Both families' on a dual-stack cluster; the API server keeps podCIDR equal to the first.
        "pod_cidrs": spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []),
        "arch": (node["metadata"].get("labels") or {}).get("kubernetes.io/arch"),
        # The IPv6 address flanneld routes this node's IPv6 pods through (host-gw), as flanneld publishes it.
        "flannel_public_ipv6": (node["metadata"].get("annotations") or {}).get(FLANNEL_PUBLIC_IPV6),
    }


class LiveCluster:
    """cni: the CNI asked for (another one installed is refused), or None to take the installed one."""

    def __init__(self, client, cni=None):
        # One LIST finds every CNI's DaemonSet, where a GET per CNI would take three requests.
        daemonsets = {}
        for daemonset in client.list("apps/v1", "DaemonSet"):
            meta = daemonset["metadata"]
            daemonsets[(meta["namespace"], meta["name"])] = dict(daemonset, apiVersion="apps/v1", kind="DaemonSet")
        installed = [name for name in CNI_NAMES if (CNIS[name]["namespace"], CNIS[name]["daemonset"]) in daemonsets]
        operator = CNIS["calico"]["operator"]
        self.operator_daemonset = daemonsets.get((operator["namespace"], operator["daemonset"]))
        # Free where the operator's CRDs are not installed: the discovery read for the LIST says so.
        self.installation = self.operator_deployment = None
        if client.serves(operator["api_version"], "Installation"):
            self.installation = client.get(operator["api_version"], "Installation", operator["installation"])
            namespace, name = operator["deployment"]
            self.operator_deployment = client.get("apps/v1", "Deployment", name, namespace)
        self.installer = None
        if any(found is not None for found in (self.operator_daemonset, self.installation, self.operator_deployment)):
            refuse_beside_operator(cni, installed, self.operator_evidence())
            installed, self.installer = ["calico"], "operator"
        elif installed:
            self.installer = "manifest"
        others = [name for name in installed if name != cni]
        if cni is not None and others:
            other = CNIS[others[0]]
            raise InputError(
                "%s is installed (DaemonSet %s/%s); cni_config configures the installed CNI and does not "
                "migrate between CNIs. Use cni=%s, or remove %s first"
                % (others[0], other["namespace"], other["daemonset"], others[0], others[0])
            )
        self.cni = cni or (installed[0] if installed else None)
        self.node_objects = client.list("v1", "Node")
        self.nodes = dict((n["name"], n) for n in (node_summary(node) for node in self.node_objects))
        spec = CNIS[self.cni] if self.cni else None
        wanted = [KUBEADM_CONFIG]
        if spec and self.installer != "operator":
            wanted.append((spec["namespace"], spec["configmap"]))
        configmaps = read_configmaps(client, wanted)
        self.kubeadm_subnet = kubeadm_pod_subnet(configmaps[KUBEADM_CONFIG])
        self.driver = self.configmap = self.daemonset = self.pool = self.pool6 = self.felix = None
        if self.cni is None:
            return
        self.driver = driver_for(self.cni)
        if self.installer == "operator":
            # The operator owns calico-node and the pools; of Calico's own objects only FelixConfiguration's
            # features (WireGuard) are the user's to set.
            self.daemonset = self.operator_daemonset
            self.felix = client.get(IPPOOL_API, "FelixConfiguration", "default")
            return
        self.daemonset = daemonsets.get((spec["namespace"], spec["daemonset"]))
        self.configmap = configmaps[(spec["namespace"], spec["configmap"])]
        self.driver.read(client, self)

    def operator_evidence(self):
        """What shows the operator installs Calico here: its Installation, its calico-node DaemonSet, itself."""
        operator = CNIS["calico"]["operator"]
        found = []
        if self.installation is not None:
            found.append("Installation %s" % operator["installation"])
        if self.operator_daemonset is not None:
            found.append("DaemonSet %s/%s" % (operator["namespace"], operator["daemonset"]))
        if self.operator_deployment is not None:
            found.append("Deployment %s/%s" % operator["deployment"])
        return ", ".join(found)

    def node_pod_cidrs(self):
        """{node: its spec.podCIDRs}"""
        return dict((name, node["pod_cidrs"]) for name, node in self.nodes.items())


def read_configmaps(client, wanted):
    """{(namespace, name): the ConfigMap, or None}: one LIST where two are wanted from one namespace (kubeadm-config
    and calico-config or canal-config, both in kube-system), else a GET each."""
    found = {}
    namespaces = [namespace for namespace, _name in wanted]
    for namespace, name in wanted:
        if namespaces.count(namespace) < 2:
            found[(namespace, name)] = client.get("v1", "ConfigMap", name, namespace)
        elif (namespace, name) not in found:
            listed = dict(
                ((namespace, item["metadata"]["name"]), dict(item, apiVersion="v1", kind="ConfigMap"))
                for item in client.list("v1", "ConfigMap", namespace)
            )
            found.update(((ns, n), listed.get((ns, n))) for ns, n in wanted if ns == namespace)
    return found


def refuse_beside_operator(cni, installed, where):
    """The operator's calico-node beside a manifest install fights it; another CNI is not installed beside it."""
    operator = CNIS["calico"]["operator"]
    if installed:
        raise LiveStateError(
            "Calico runs twice: the Tigera operator's (%s) and %s's manifest install (DaemonSet %s/%s); remove one of "
            "them (the operator's by deleting Installation %s and its operator)"
            % (
                where,
                installed[0],
                CNIS[installed[0]]["namespace"],
                CNIS[installed[0]]["daemonset"],
                operator["installation"],
            )
        )
    if cni not in (None, "calico"):
        raise InputError(
            "calico is installed by the Tigera operator (%s); cni_config configures the installed CNI and does not "
            "install %s beside it. Use cni=calico, or remove Calico first" % (where, cni)
        )
