# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI matrix: the one source of CNI names, backends, defaults, object names and versions.

Argument specs, documentation, role defaults and error messages are derived from this table.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

FLANNEL_BACKENDS = {
    # options it takes, encapsulation overhead in bytes, ports to open, devices it creates on every node
    # (flannel never deletes them; host-gw leaves routes instead), kernel features it needs on every node
    "vxlan": {
        "options": ("vni", "port", "direct_routing", "gbp", "mtu"),
        "overhead": 50,
        "ports": ("8472/udp",),
        "devices": ("flannel.{vni}",),
        "kernel": ("vxlan",),
    },
    "host-gw": {"options": (), "overhead": 0, "ports": (), "devices": (), "kernel": ()},
    "wireguard": {
        "options": ("psk", "listen_port", "wireguard_mode", "mtu"),
        "overhead": 80,
        "ports": ("51820/udp",),
        "devices": ("flannel-wg", "flannel-wg-v6"),
        "kernel": ("wireguard",),
    },
    "udp": {"options": ("port",), "overhead": 28, "ports": ("8285/udp",), "devices": ("flannel0",), "kernel": ("tun",)},
}

CALICO_BACKENDS = {
    # calico_backend is the calico-config key (bird|vxlan|none); ipip/vxlan say which IPPool mode the
    # backend drives. `ipip` is NOT a value of calico_backend: IP-in-IP is bird plus ipipMode.
    "bgp": {"calico_backend": "bird", "pool_mode": None, "overhead": 0, "ports": ("179/tcp",), "kernel": ()},
    "ipip": {
        "calico_backend": "bird",
        "pool_mode": "ipipMode",
        "overhead": 20,
        "ports": ("179/tcp", "ipip"),
        "kernel": ("ipip",),
    },
    "vxlan": {
        "calico_backend": "vxlan",
        "pool_mode": "vxlanMode",
        "overhead": 50,
        "ports": ("4789/udp",),
        "kernel": ("vxlan",),
    },
}

# Kernel features every node needs for kubeadm and any CNI (kube-proxy and the CNI bridge traffic go
# through br_netfilter; containerd's snapshotter is overlayfs).
NODE_KERNEL_FEATURES = ("overlay", "br_netfilter")

CALICO_BACKEND_ALIASES = {"bird": "bgp"}
CALICO_ENCAPSULATION_MODES = ("Always", "CrossSubnet")
CALICO_POOL_MODES = ("Always", "CrossSubnet", "Never")

FLANNEL_VERSION = "v0.28.9"
CALICO_VERSION = "v3.32.1"

# Upstream release files and their sha256 at the pinned (and tested older) versions.
MANIFEST_SHA256 = {
    ("flannel", "v0.28.9"): "e875824be2f552b45711dbda91af81b17eb961d00025d914d9fef18fad8f09c0",
    ("calico", "v3.32.1"): "a1df919d9721cf667accdc3e72848911b0cb25cfab7d2478ad0c996302c95744",
    ("canal", "v3.32.1"): "aa58a7b245586a90d75d969b9184326f6218acea7e4951ce2931113cd8e91e39",
    ("calico", "v3.26.1"): "5e71ad6c338050de4bd8c1d580f7f8862de6da0029d253e220c055922bd624b9",
    ("canal", "v3.26.1"): "c1b0d87ade4681ca52553c2d0ddb22d0269ad524af4e1f3359538483eddaa324",
}

CNIS = {
    "flannel": {
        "default_pod_cidr": "10.244.0.0/16",
        "backends": FLANNEL_BACKENDS,
        "default_backend": "vxlan",
        "version": FLANNEL_VERSION,
        "manifest_url": "https://raw.githubusercontent.com/flannel-io/flannel/{version}/Documentation/kube-flannel.yml",
        # The mirror layout <mirror>/<project>/<version>/<file> is that of the upstream release paths.
        "mirror_path": "flannel/{version}/kube-flannel.yml",
        "namespace": "kube-flannel",
        "configmap": "kube-flannel-cfg",
        "daemonset": "kube-flannel-ds",
        "pod_selector": "app=flannel",
        "flannel_container": "kube-flannel",
    },
    "calico": {
        "default_pod_cidr": "192.168.0.0/16",
        "backends": CALICO_BACKENDS,
        "default_backend": "ipip",
        "version": CALICO_VERSION,
        "manifest_url": "https://raw.githubusercontent.com/projectcalico/calico/{version}/manifests/calico.yaml",
        "mirror_path": "calico/{version}/calico.yaml",
        "namespace": "kube-system",
        "configmap": "calico-config",
        "daemonset": "calico-node",
        "pod_selector": "k8s-app=calico-node",
        "calico_container": "calico-node",
        "ippool": "default-ipv4-ippool",
        "ippool_block_size": 26,
    },
    "canal": {
        "default_pod_cidr": "10.244.0.0/16",
        "backends": FLANNEL_BACKENDS,
        "default_backend": "vxlan",
        "version": CALICO_VERSION,
        "manifest_url": "https://raw.githubusercontent.com/projectcalico/calico/{version}/manifests/canal.yaml",
        "mirror_path": "calico/{version}/canal.yaml",
        "namespace": "kube-system",
        "configmap": "canal-config",
        "daemonset": "canal",
        "pod_selector": "k8s-app=canal",
        "flannel_container": "kube-flannel",
        "calico_container": "calico-node",
    },
}

CNI_NAMES = tuple(CNIS)
ALL_BACKENDS = tuple(sorted(set(FLANNEL_BACKENDS) | set(CALICO_BACKENDS) | set(CALICO_BACKEND_ALIASES)))
FIELD_MANAGER = "kubeforge"
ANNOTATION_PREFIX = "kubeforge.io/"


class MatrixError(ValueError):
    """Input that the matrix does not allow; the message names the fix."""


def cni_spec(cni):
    if cni not in CNIS:
        raise MatrixError("cni=%r is not supported; use one of: %s" % (cni, ", ".join(CNI_NAMES)))
    return CNIS[cni]


def is_flannel_networking(cni):
    """Flannel and Canal share flannel's networking and so its backends and net-conf.json."""
    return "flannel_container" in cni_spec(cni)


def normalize_backend(cni, backend):
    """The canonical backend name for a CNI, or the default when none is given."""
    spec = cni_spec(cni)
    if backend is None:
        return spec["default_backend"]
    if backend == "ipip" and is_flannel_networking(cni):
        raise MatrixError(
            "backend=ipip is a Calico backend; flannel's experimental ipip is not supported here. "
            "Use one of: %s" % ", ".join(spec["backends"])
        )
    if cni == "calico":
        backend = CALICO_BACKEND_ALIASES.get(backend, backend)
    if backend not in spec["backends"]:
        other = [name for name in CNI_NAMES if backend in CNIS[name]["backends"]]
        hint = " (that is a backend of %s)" % ", ".join(other) if other else ""
        raise MatrixError(
            "backend=%r is not a backend of %s%s; use one of: %s"
            % (backend, cni, hint, ", ".join(_backend_choices(cni)))
        )
    return backend


def _backend_choices(cni):
    names = list(cni_spec(cni)["backends"])
    if cni == "calico":
        names += ["%s (alias of %s)" % (alias, target) for alias, target in CALICO_BACKEND_ALIASES.items()]
    return names


def backend_spec(cni, backend):
    return cni_spec(cni)["backends"][normalize_backend(cni, backend)]


def manifest_url(cni, version):
    return cni_spec(cni)["manifest_url"].format(version=version)


def mirror_path(cni, version):
    return cni_spec(cni)["mirror_path"].format(version=version)


def known_sha256(cni, version):
    return MANIFEST_SHA256.get((cni, version))


def mtu_overhead(cni, backend):
    return backend_spec(cni, backend)["overhead"]
