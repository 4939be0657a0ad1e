# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flannel's net-conf.json and the kube-flannel container, as pure functions (Flannel and Canal)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import copy
import json

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import (
    FLANNEL_BACKENDS,
    MatrixError,
)

NET_CONF_KEY = "net-conf.json"

# Module option -> key inside net-conf.json's Backend object.
BACKEND_KEYS = {
    "vni": "VNI",
    "port": "Port",
    "direct_routing": "DirectRouting",
    "gbp": "GBP",
    "mtu": "MTU",
    "psk": "PSK",
    "listen_port": "ListenPort",
    "wireguard_mode": "Mode",
}
WIREGUARD_MODES = ("separate", "auto", "ipv4", "ipv6")


def backend_option_names(backend):
    return FLANNEL_BACKENDS[backend]["options"]


def validate_options(backend, options):
    """Check the backend options that were given (None = not given); return them keyed for net-conf.json."""
    allowed = backend_option_names(backend)
    given = dict((name, value) for name, value in options.items() if value is not None)
    for name in sorted(given):
        if name not in allowed:
            users = [b for b in FLANNEL_BACKENDS if name in backend_option_names(b)]
            raise MatrixError(
                "option %s does not apply to flannel backend %s; it applies to: %s"
                % (name, backend, ", ".join(users) or "no flannel backend")
            )
    _check_range(given, "vni", 1, 16777215)
    _check_range(given, "port", 1, 65535)
    _check_range(given, "listen_port", 1, 65535)
    _check_range(given, "mtu", 576, 9000)
    if "wireguard_mode" in given and given["wireguard_mode"] not in WIREGUARD_MODES:
        raise MatrixError(
            "wireguard_mode=%r is not valid; use one of: %s" % (given["wireguard_mode"], ", ".join(WIREGUARD_MODES))
        )
    if "psk" in given:
        try:
            key = base64.b64decode(given["psk"], validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            # The value itself is a secret: never echo it.
            raise MatrixError("psk is not a WireGuard key (32 bytes, base64); generate one with `wg genpsk`")
    return dict((BACKEND_KEYS[name], value) for name, value in given.items())


def _check_range(options, name, low, high):
    value = options.get(name)
    if value is not None and not low <= value <= high:
        raise MatrixError("%s=%s is out of range; use %d to %d" % (name, value, low, high))


def parse_net_conf(text, where):
    """The live net-conf.json as a dict; a clear error if it is not a JSON object."""
    try:
        conf = json.loads(text)
    except ValueError as exc:
        raise MatrixError(
            "%s: net-conf.json is not valid JSON (%s); fix the key by hand (kubectl edit) and run again" % (where, exc)
        ) from None
    if not isinstance(conf, dict):
        raise MatrixError("%s: net-conf.json must be a JSON object, found %s" % (where, type(conf).__name__))
    return conf


def desired_net_conf(live, pod_cidr, backend, backend_keys):
    """net-conf.json as it must be: keys flannel owns and we do not (EnableNFTables, …) survive.

    Backend options of the same backend type survive too; a new backend type starts from its own
    keys only, since another backend's options mean nothing to it. Backend.Type is always written:
    without it flannel silently falls back to udp.
    """
    conf = copy.deepcopy(live) if live else {}
    conf["Network"] = pod_cidr
    live_backend = conf.get("Backend") if isinstance(conf.get("Backend"), dict) else {}
    new_backend = dict(live_backend) if live_backend.get("Type") == backend else {}
    new_backend["Type"] = backend
    new_backend.update(backend_keys)
    conf["Backend"] = new_backend
    return conf


def dump_net_conf(conf):
    return json.dumps(conf, indent=2, sort_keys=False) + "\n"


def live_backend_type(conf):
    backend = conf.get("Backend")
    if not isinstance(backend, dict):
        return "udp"  # what flanneld does when Backend is missing (pkg/subnet/config.go)
    return backend.get("Type") or ""


def stale_devices(conf):
    """Devices the backend in `conf` creates on every node; stale once that backend is left."""
    backend = live_backend_type(conf)
    vni = (conf.get("Backend") or {}).get("VNI", 1) if isinstance(conf.get("Backend"), dict) else 1
    return [name.format(vni=vni) for name in FLANNEL_BACKENDS.get(backend, {}).get("devices", ())]
