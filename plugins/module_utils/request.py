# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cni_config's input, checked against the CNI matrix before anything is read or written."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import ipaddress
import re

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    CALICO_BACKENDS,
    CALICO_ENCAPSULATION_MODES,
    CALICO_OPTIONS,
    CNIS,
    FLANNEL_BACKENDS,
    FLANNEL_OPTIONS,
    MTU_RANGE,
    NODE_ADDRESS_METHODS,
    check_installer,
    cni_spec,
    is_flannel_networking,
    normalize_backend,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import ManifestSource
from ansible_collections.kubeforge.cluster.plugins.module_utils.networks import (
    canonical,
    check_dual_stack,
    is_dual_stack,
)

RESTART_CHOICES = ("auto", "always", "never")
DEFAULT_WAIT_TIMEOUT = 300
# The calico-config spelling of a backend: each value names the backend it selects without an IPPool mode.
CALICO_BACKEND_VALUES = tuple(sorted(set(spec["calico_backend"] for spec in CALICO_BACKENDS.values())))
# The keys of backend_options (the roles' cni_backend_options): every backend option but the MTU, which is its own
# option because Calico takes it too.
BACKEND_OPTION_NAMES = tuple(
    sorted([name for name in FLANNEL_OPTIONS if name != "mtu"] + ["encapsulation", *CALICO_OPTIONS])
)


class Request:
    """Validated input of cni_config."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def sources(self):
        """The manifests an install reads: calico.yaml (or the CNI's), or the Tigera operator's release files."""
        if self.installer != "operator":
            return [self.source]
        return [self.source.operator_file(name) for name in CNIS["calico"]["operator"]["manifests"]]

    def summary(self):
        """What validate_only returns: the input as the run would use it."""
        return {
            "cni": self.cni,
            "backend": self.backend,
            "pod_cidr": self.pod_cidr,
            "version": self.version,
            "manifest": ", ".join(source.describe() for source in self.sources()),
        }


def check_range(name, value, bounds):
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise InputError("%s=%s is out of range; use %d to %d" % (name, value, bounds[0], bounds[1]))


def backend_from_calico_backend(value, cni, backend):
    """backend= from the calico-config spelling (bird|vxlan), refusing what calico-node misreads."""
    if value == "ipip":
        raise InputError(
            "calico_backend: ipip is not a Calico value (it takes bird, vxlan or none; anything else silently "
            "runs BIRD). For IP-in-IP use backend=ipip, which writes calico_backend: bird and IPPool ipipMode"
        )
    if cni != "calico":
        raise InputError("calico_backend applies to cni=calico only; use backend= for %s" % cni)
    if backend is not None:
        raise InputError("give backend= or calico_backend=, not both")
    if value not in CALICO_BACKEND_VALUES:
        raise InputError(
            "calico_backend=%r: use %s (none is policy-only: use cni=canal)"
            % (value, " or ".join(CALICO_BACKEND_VALUES))
        )
    return normalize_backend(cni, value)


def build_request(params):
    """Validate the module parameters against the CNI matrix; one clear error per bad input."""
    cni = params["cni"]
    spec = cni_spec(cni)
    backend = params.get("backend")
    if params.get("calico_backend") is not None:
        backend = backend_from_calico_backend(params["calico_backend"], cni, backend)
    backend = normalize_backend(cni, backend)
    pod_cidr = params.get("pod_cidr")
    if pod_cidr:
        pod_cidr = canonical(pod_cidr, "pod_cidr")
        if is_dual_stack(pod_cidr):
            check_dual_stack(cni, backend)
    else:
        pod_cidr = None
    mtu = params.get("mtu")
    check_range("mtu", mtu, MTU_RANGE)
    check_range("node_mtu", params.get("node_mtu"), MTU_RANGE)
    options = backend_options(params)
    encapsulation = options.pop("encapsulation")
    calico_options = dict((name, options.pop(name)) for name in CALICO_OPTIONS)
    if is_flannel_networking(cni):
        if encapsulation is not None:
            raise InputError("encapsulation applies to Calico's ipip and vxlan backends, not to %s" % cni)
        if calico_options["wireguard"] is not None:
            raise InputError(
                "wireguard (Calico's encryption) applies to cni=calico; %s encrypts with its own backend: "
                "backend=wireguard" % cni
            )
        options["mtu"] = mtu
        flannel_keys = flannel_backend_keys(backend, options)
    else:
        given = sorted(name for name, value in options.items() if value is not None)
        if given:
            raise InputError("%s apply to flannel and canal backends, not to calico" % ", ".join(given))
        flannel_keys = {}
        encapsulation = calico_encapsulation(backend, encapsulation)
    if params.get("image_registry") is not None and not params["image_registry"].strip("/"):
        raise InputError("image_registry is empty; give a registry such as registry.example.com/mirror")
    restart = params.get("restart") or "auto"
    if restart not in RESTART_CHOICES:
        raise InputError("restart=%r: use one of %s" % (restart, ", ".join(RESTART_CHOICES)))
    version = params.get("version") or spec["version"]
    source = ManifestSource(
        cni,
        version,
        url=params.get("manifest_url"),
        sha256=params.get("manifest_sha256"),
        path=params.get("manifest_path"),
        mirror=params.get("manifest_mirror"),
    )
    installer = check_installer(cni, params.get("installer"))
    request = Request(
        cni=cni,
        installer=installer,
        backend=backend,
        pod_cidr=pod_cidr,
        version=version,
        version_given=bool(params.get("version")),
        allow_downgrade=bool(params.get("allow_downgrade")),
        source=source,
        image_registry=params.get("image_registry"),
        mtu=mtu,
        node_mtu=params.get("node_mtu"),
        flannel_keys=flannel_keys,
        encapsulation=encapsulation,
        wireguard=calico_options["wireguard"],
        node_address=node_address(params.get("node_address"), cni),
        restart=restart,
        wait=params.get("wait", True),
        wait_timeout=params.get("wait_timeout") or DEFAULT_WAIT_TIMEOUT,
    )
    if installer == "operator":
        check_operator_request(request)
    return request


def check_operator_request(request):
    """What an install by the Tigera operator cannot do as asked: the operator restarts calico-node itself, and
    reads its own release files, not calico.yaml. Asked for (installer=operator) or found on the cluster."""
    if request.restart != "auto":
        raise InputError(
            "restart=%s: on an install by the Tigera operator the operator rolls calico-node itself when the "
            "Installation changes; omit restart" % request.restart
        )
    if request.source.given_file:
        raise InputError(
            "manifest_url and manifest_path name calico.yaml of a manifest install; the Tigera operator is installed "
            "from its release files of version= (%s), taken from manifest_mirror (<mirror>/%s) or upstream by their "
            "sha256. Omit them"
            % (
                ", ".join(CNIS["calico"]["operator"]["manifests"]),
                CNIS["calico"]["operator"]["mirror_path"].format(version=request.version, file=""),
            )
        )


def backend_options(params):
    """The backend options, each given as an option or in backend_options (not both)."""
    options = dict((name, params.get(name)) for name in BACKEND_OPTION_NAMES)
    given = dict((name, value) for name, value in (params.get("backend_options") or {}).items() if value is not None)
    if "mtu" in given:
        raise InputError("backend_options.mtu: the MTU is an option of its own, mtu (the roles' cni_mtu); move it")
    for name, value in given.items():
        if options[name] is not None:
            raise InputError("%s is given both as an option and in backend_options; give it once" % name)
        options[name] = value
    return options


def flannel_backend_keys(backend, options):
    """The backend options that were given (None = not given), checked, keyed as net-conf.json's Backend."""
    allowed = FLANNEL_BACKENDS[backend]["options"]
    given = dict((name, value) for name, value in options.items() if value is not None)
    for name in sorted(given):
        if name not in allowed:
            users = [other for other, spec in FLANNEL_BACKENDS.items() if name in spec["options"]]
            raise InputError(
                "option %s does not apply to flannel backend %s; it applies to: %s"
                % (name, backend, ", ".join(users) or "no flannel backend")
            )
    for name, value in given.items():
        option = FLANNEL_OPTIONS[name]
        if "range" in option:
            check_range(name, value, option["range"])
        if value not in option.get("choices", (value,)):
            raise InputError("%s=%r is not valid; use one of: %s" % (name, value, ", ".join(option["choices"])))
    if "psk" in given and not _is_wireguard_key(given["psk"]):
        # The value itself is a secret: never echo it.
        raise InputError("psk is not a WireGuard key (32 bytes, base64); generate one with `wg genpsk`")
    return dict((FLANNEL_OPTIONS[name]["key"], value) for name, value in given.items())


def _is_wireguard_key(value):
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def calico_encapsulation(backend, encapsulation):
    """The mode of the backend's encapsulation (Always|CrossSubnet); bgp has none."""
    if CALICO_BACKENDS[backend]["pool_mode"] is None:
        if encapsulation not in (None, "Never"):
            raise InputError(
                "encapsulation=%s does not apply to backend %s (no encapsulation); "
                "use backend=ipip or backend=vxlan with it" % (encapsulation, backend)
            )
        return None
    if encapsulation is None:
        return CALICO_ENCAPSULATION_MODES[0]
    if encapsulation not in CALICO_ENCAPSULATION_MODES:
        raise InputError(
            "encapsulation=%r is not valid for backend %s; use one of: %s"
            % (encapsulation, backend, ", ".join(CALICO_ENCAPSULATION_MODES))
        )
    return encapsulation


def node_address(value, cni):
    """node_address=METHOD[=VALUE] as (method, value), checked against what the CNI can choose by."""
    if value is None:
        return None
    method, _equals, given = value.partition("=")
    spec = NODE_ADDRESS_METHODS.get(method)
    family = cni_spec(cni)["networking"]  # the matrix's NODE_ADDRESS_METHODS say what each family renders
    usable = [name for name, entry in NODE_ADDRESS_METHODS.items() if family in entry]
    if spec is None:
        raise InputError("node_address=%r: use one of %s" % (value, ", ".join(usable)))
    if family not in spec:
        raise InputError(
            "node_address=%s: %s cannot choose its node address that way; use one of %s"
            % (value, cni, ", ".join(usable))
        )
    kind = spec["value"]
    if kind is None:
        if given:
            raise InputError("node_address=%s: %s takes no value; write node_address=%s" % (value, method, method))
        return (method, None)
    if not given:
        raise InputError("node_address=%s needs a value, e.g. node_address=%s" % (value, NODE_ADDRESS_EXAMPLES[kind]))
    try:
        if kind == "regex":
            re.compile(given)
        elif kind == "address":
            ipaddress.ip_address(given)
        elif kind == "cidrs":
            for cidr in given.split(","):
                ipaddress.ip_network(cidr.strip(), strict=False)
        elif not INTERFACE_NAME_RE.match(given):
            raise ValueError("not an interface name")
    except (re.error, ValueError) as exc:
        raise InputError(
            "node_address=%s: %r is not valid (%s); e.g. node_address=%s"
            % (value, given, exc, NODE_ADDRESS_EXAMPLES[kind])
        ) from None
    return (method, given)


NODE_ADDRESS_EXAMPLES = {
    "name": "interface=eth1",
    "regex": "interface-regex=^(eth|ens).*",
    "address": "can-reach=10.0.0.1",
    "cidrs": "cidr=10.0.0.0/24",
}
# Linux interface names: up to 15 characters, no slash or whitespace.
INTERFACE_NAME_RE = re.compile(r"^[^/\s:]{1,15}$")
