# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cluster's networks (the pod CIDR, the service subnet): one IPv4 network, or an IPv4 and an IPv6 network
(dual stack), spelled as kubeadm's podSubnet is - comma-joined, IPv4 first - and checked as kubeadm checks them.

The limits are kubeadm's (cmd/kubeadm/app/apis/kubeadm/validation/validation.go, constants.go, v1.36.3): a node
gets a /24 (IPv4) or /64 (IPv6) of the pod network, which must hold at least one and at most 2^16 of them
(PodSubnetNodeMaskMaxDiff); a service subnet spans at most 20 bits (MaximumBitsForServiceSubnet).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import NODE_CIDR_MASK_SIZES, cni_spec
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError

FAMILIES = {4: "ipv4", 6: "ipv6"}
NODE_MASK_MAX_DIFF = 16
SERVICE_SUBNET_MAX_BITS = 20
EXAMPLES = {"pod": "10.244.0.0/16,fd00:10:244::/56", "service": "10.96.0.0/12,fd00:10:96::/112"}


def cidr_items(value):
    """The CIDR strings of a str (comma-separated) or a list, blanks dropped."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else [str(item) for item in value]
    return [part.strip() for part in parts if part.strip()]


def parse_networks(value, name, kind="pod"):
    """(IPv4 network,) or (IPv4 network, IPv6 network), or InputError naming the variable and the fix.
    kind: pod or service, whose mask limits differ."""
    items = cidr_items(value)
    example = EXAMPLES[kind]
    if not items:
        raise InputError("%s is empty; give an IPv4 network, or an IPv4 and an IPv6 one: %s" % (name, example))
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise InputError("%s=%r is not a network CIDR (%s); e.g. %s" % (name, item, exc, example)) from None
    text = ",".join(items)
    if len(networks) > 2:
        raise InputError(
            "%s=%s has %d networks; give one IPv4 network, or an IPv4 and an IPv6 one" % (name, text, len(networks))
        )
    if len(networks) == 2 and networks[0].version == networks[1].version:
        raise InputError(
            "%s=%s has two IPv%d networks; a dual-stack cluster has one IPv4 and one IPv6 network, e.g. %s"
            % (name, text, networks[0].version, example)
        )
    if networks[0].version == 6:
        if len(networks) == 1:
            raise InputError(
                "%s=%s: IPv6-only clusters are not supported; give an IPv4 network first, e.g. %s,%s"
                % (name, text, example.split(",")[0], networks[0])
            )
        raise InputError(
            "%s=%s: give the IPv4 network first (%s,%s); the first family is the cluster's primary one"
            % (name, text, networks[1], networks[0])
        )
    for network in networks:
        check_mask(network, name, kind)
    return tuple(networks)


def check_mask(network, name, kind):
    bits = network.max_prefixlen
    if kind == "service":
        if network.prefixlen < bits - SERVICE_SUBNET_MAX_BITS:
            raise InputError(
                "%s network %s is too large for services: kubeadm takes at most /%d for IPv%d"
                % (name, network, bits - SERVICE_SUBNET_MAX_BITS, network.version)
            )
        return
    node_mask = NODE_CIDR_MASK_SIZES[FAMILIES[network.version]]
    if network.prefixlen > node_mask:
        raise InputError(
            "%s network %s is smaller than one node's pod subnet (/%d for IPv%d); give /%d or larger"
            % (name, network, node_mask, network.version, node_mask)
        )
    if node_mask - network.prefixlen > NODE_MASK_MAX_DIFF:
        raise InputError(
            "%s network %s holds more than 2^%d node subnets of /%d, which kubeadm refuses; give /%d to /%d"
            % (name, network, NODE_MASK_MAX_DIFF, node_mask, node_mask - NODE_MASK_MAX_DIFF, node_mask)
        )


def live_networks(value, where):
    """The networks a cluster already has (kubeadm's podSubnet, a CNI's pools), IPv4 first: taken as they are, since
    they cannot be reordered or resized by a re-run; only what is not a CIDR at all is refused."""
    try:
        networks = [ipaddress.ip_network(item, strict=False) for item in cidr_items(value)]
    except ValueError as exc:
        raise InputError(
            "%s holds %r, which is not a network CIDR (%s); fix it by hand" % (where, value, exc)
        ) from None
    return tuple(sorted(networks, key=lambda network: network.version))


def networks_text(networks):
    """kubeadm's spelling: comma-joined, IPv4 first."""
    return ",".join(str(network) for network in networks)


def canonical(value, name, kind="pod"):
    """The checked networks of value as kubeadm's comma string."""
    return networks_text(parse_networks(value, name, kind))


def is_dual_stack(value):
    return len(cidr_items(value)) > 1


def by_family(value):
    """{4: network, 6: network} of a checked value (a comma string or a tuple of networks)."""
    networks = parse_networks(value, "networks") if isinstance(value, str) else value
    return dict((network.version, network) for network in networks)


def network_problems(networks, services=()):
    """One message per bad value and per overlapping pair: {name: value}, services the names of service subnets."""
    problems = []
    valid = []
    for name, value in networks.items():
        try:
            kind = "service" if name in services else "pod"
            valid.extend((name, network) for network in parse_networks(value, name, kind))
        except InputError as exc:
            problems.append(str(exc))
    for index, (name, network) in enumerate(valid):
        for other, other_network in valid[index + 1 :]:
            if other != name and network.overlaps(other_network):
                problems.append(
                    "%s %s overlaps %s %s; give them disjoint ranges" % (name, network, other, other_network)
                )
    return problems


def check_dual_stack(cni, backend):
    """Refuse an IPv6 pod network where the CNI or its backend cannot carry one, naming what can."""
    spec = cni_spec(cni)
    if spec.get("no_dual_stack"):
        raise InputError("pod_cidr has an IPv6 network, but %s" % spec["no_dual_stack"])
    if not spec["backends"][backend]["ipv6"]:
        usable = [name for name, entry in spec["backends"].items() if entry["ipv6"]]
        raise InputError(
            "backend=%s of %s cannot carry IPv6 pods (%s); with an IPv6 pod network use one of: %s"
            % (backend, cni, IPV6_REFUSALS[spec["networking"]], ", ".join(usable))
        )


# Where upstream says a backend carries no IPv6.
IPV6_REFUSALS = {
    "flannel": 'flannel Documentation/configuration.md: "Dual-stack works only with vxlan, wireguard and host-gw"',
    "calico": 'Calico\'s ippools CRD: "IPIP is not supported on IPv6 pools"',
}
