#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cni_config
short_description: Install Flannel, Calico or Canal and switch its backend on a live cluster
version_added: 0.1.0
description:
  - Installs the upstream manifest of the CNI at a pinned version, patched so that the first apply is
    already right (pod CIDR, backend, MTU, image registry), and server-side applied with the field
    manager C(kubeforge), so CRDs of any size apply.
  - On an installed cluster, reads the live objects, computes the desired ones and writes only the
    difference. Objects that exist are adopted as they are, including an install from the upstream
    release asset (whose DaemonSet selector differs); only the fields this module owns are changed.
  - Flannel and Canal read C(net-conf.json) at start only, and nodes on different backends cannot reach
    each other, so after a change every CNI pod is replaced at once. Calico's switch follows the order
    Calico needs - to vxlan, the IPPool first; from vxlan, BIRD running on every node first.
  - The pod CIDR is checked against the cluster (kubeadm-config C(networking.podSubnet), node
    C(spec.podCIDR), the live CNI config); a mismatch is refused, because changing it is a migration.
  - Calico installed by the Tigera operator (found by its Installation, its Deployment or its calico-node
    DaemonSet) is configured through the Installation only; see O(installer).
  - Every bad input fails before anything is written.
  - Warns when the CNI is Flannel and NetworkPolicy objects exist, since Flannel enforces none of them
    (Canal does).
author:
  - kubeforge maintainers (@kubeforge)
extends_documentation_fragment:
  - kubeforge.cluster.kube_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the cluster.
    support: full
    details: Every write is sent as a server-side dry run, so the API server validates it; nothing changes.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode).
    support: full
    details: Shows, per object, the owned fields before and after.
options:
  cni:
    description: The CNI. Canal is Flannel networking with Calico network policy.
    type: str
    required: true
    choices: [flannel, calico, canal]
  backend:
    description:
      - The backend. Flannel and Canal take C(vxlan) (default), C(host-gw), C(wireguard), C(udp), and
        C(ipip) (experimental upstream, IPv4 only, needs the ipip kernel module on every node).
      - Calico takes C(ipip) (default, as Calico's manifest), C(bgp) (alias C(bird)) and C(vxlan).
      - C(udp) is linux/amd64 only and needs a privileged kube-flannel container; the module makes
        that change (and undoes it when leaving udp) and warns.
      - Calico C(ipip) is C(calico_backend=bird) plus IPPool C(ipipMode); C(vxlan) is
        C(calico_backend=vxlan), IPPool C(vxlanMode) and calico-node probes without BIRD checks.
    type: str
    choices: [bgp, bird, host-gw, ipip, udp, vxlan, wireguard]
  calico_backend:
    description:
      - Calico only; the C(calico-config) spelling of the backend, C(bird) or C(vxlan). Prefer O(backend).
      - C(ipip) is rejected - it is not a value of C(calico_backend) (calico-node silently runs it as
        C(bird)); use O(backend=ipip).
    type: str
  pod_cidr:
    description:
      - The pod network - one IPv4 network, or an IPv4 and an IPv6 network for a dual-stack cluster, as a list or a
        comma string (C(10.244.0.0/16,fd00:10:244::/56), kubeadm's C(networking.podSubnet) spelling), IPv4 first.
        Defaults to the cluster's (live CNI config, then kubeadm's C(networking.podSubnet)), then to the CNI's
        default - 10.244.0.0/16 for Flannel and Canal, 192.168.0.0/16 for Calico.
      - Each network must hold whole node subnets (a /24 per node for IPv4, a /64 for IPv6) and at most 2^16 of
        them, as kubeadm requires.
      - Becomes Flannel's C(Network) (and C(IPv6Network) with C(EnableIPv6)), or Calico's C(CALICO_IPV4POOL_CIDR)
        and default IPPool C(cidr) (and C(CALICO_IPV6POOL_CIDR), the pool C(default-ipv6-ippool), C(IP6),
        C(FELIX_IPV6SUPPORT) and the CNI configuration's C(assign_ipv6)); on an operator install, the
        Installation's C(ipPools).
      - An IPv6 network is refused with Flannel's C(udp) and C(ipip) backends (upstream - dual stack works only with
        vxlan, wireguard and host-gw), Calico's C(ipip) (IPIP is not supported on IPv6 pools) and with Canal.
      - A change of the networks, or between single and dual stack, on a live cluster is refused - it is a migration.
    type: list
    elements: str
  state:
    description: Only C(present); the CNI is installed and configured as asked.
    type: str
    default: present
    choices: [present]
  version:
    description:
      - The upstream version to install, e.g. C(v0.28.9) for Flannel, C(v3.32.1) for Calico and Canal.
        Omitted, a new install gets the version the collection pins, and an installed CNI keeps its version
        (RV(upgrade) says when the pinned one is newer).
      - Given on an installed CNI of another version, upgrades it as upstream documents (docs/upgrade.md) -
        the new CRDs server-side first, then every object of the new manifest server-side, keeping the backend,
        the pod CIDR, the MTU, the IP pools, the settings and added keys of the ConfigMap (C(net-conf.json)),
        the image registry, and the fields other managers own; env vars and template keys changed by hand on
        the old objects are carried over. An object the new version no longer has is deleted only if this
        module created it (a CRD only while no object of it exists), else left and reported.
      - A O(manifest_path) or O(manifest_url) without O(version) asks for the version of that manifest; a
        manifest whose main image tag differs from O(version) is refused.
    type: str
  allow_downgrade:
    description:
      - Allow O(version) older than the installed one (or a change from an installed image tag that is not a
        release). Without it such a run is refused, naming both versions, before anything is written.
    type: bool
    default: false
  installer:
    description:
      - How Calico is installed. C(manifest) - from calico.yaml, the collection's default for a new install.
        C(operator) - by the Tigera operator (Calico's recommended way), from its release files of O(version)
        (C(operator-crds.yaml), C(tigera-operator.yaml)) and an Installation C(default) that carries the pod CIDR,
        backend, O(mtu), O(node_address) and O(image_registry).
      - Unset, an installed Calico is configured the way it was installed, found by the operator's Installation
        (or its Deployment C(tigera-operator/tigera-operator), or its DaemonSet C(calico-system/calico-node)). Asking
        for the other installer than the installed one is refused.
      - On an operator install the module writes the Installation only (C(calicoNetwork.ipPools[].encapsulation),
        C(bgp), C(mtu), C(nodeAddressAutodetectionV4), C(registry)), and FelixConfiguration C(wireguardEnabled) for
        O(wireguard); never calico-node or the IP pools, which the operator owns and reverts. The operator rolls
        calico-node itself, so O(restart) must stay C(auto), and it upgrades Calico itself, so O(version) must be the
        installed one.
      - Flannel and Canal install from their manifests only.
    type: str
    choices: [manifest, operator]
  manifest_url:
    description:
      - Where to download the manifest. Defaults to the upstream file of O(version); its sha256 is
        known for the pinned versions, and a download is cached by checksum.
    type: str
  manifest_sha256:
    description: The expected sha256 of the manifest; required to pin a manifest from O(manifest_url).
    type: str
  manifest_path:
    description: A local manifest file (for air-gapped sites), used instead of a download.
    type: path
  manifest_mirror:
    description:
      - A mirror directory laid out as C(<mirror>/flannel/<version>/kube-flannel.yml) and
        C(<mirror>/calico/<version>/calico.yaml) (or C(canal.yaml)); the Tigera operator's files in
        C(<mirror>/calico/<version>/operator/).
    type: path
  image_registry:
    description:
      - Pull the CNI images from this registry (and path) instead, e.g. C(registry.example.com/mirror)
        turns C(quay.io/calico/node:v3.32.1) into C(registry.example.com/mirror/calico/node:v3.32.1).
    type: str
  mtu:
    description:
      - Flannel vxlan and wireguard - Backend C(MTU). Calico - C(veth_mtu) (0, the default, auto-detects).
    type: int
  vni:
    description: Flannel vxlan - the VXLAN network identifier (C(VNI), default 1).
    type: int
  port:
    description: Flannel vxlan and udp - the UDP port (vxlan default 8472, udp default 8285).
    type: int
  direct_routing:
    description: Flannel vxlan and ipip - route directly between hosts on one subnet (C(DirectRouting)).
    type: bool
  gbp:
    description: Flannel vxlan - VXLAN Group Based Policy (C(GBP)).
    type: bool
  psk:
    description: Flannel wireguard - the pre-shared key (C(wg genpsk)); never shown in output.
    type: str
  listen_port:
    description: Flannel wireguard - the UDP port (C(ListenPort), default 51820).
    type: int
  wireguard_mode:
    description: Flannel wireguard - C(Mode).
    type: str
    choices: [separate, auto, ipv4, ipv6]
  encapsulation:
    description:
      - Calico ipip and vxlan - the IPPool mode, C(Always) (default) or C(CrossSubnet).
    type: str
    choices: [Always, CrossSubnet]
  wireguard:
    description:
      - Calico only - encrypt pod traffic between nodes with WireGuard (FelixConfiguration default
        C(wireguardEnabled), IPv4), on any backend; C(false) turns it off, omitted leaves it as it is.
      - Every node needs the wireguard kernel module and UDP 51820 open between nodes (the prepare role
        reports and checks both with C(cni_backend_options.wireguard)). It takes 60 bytes of the pods' MTU
        (RV(mtu_overhead)); with O(mtu) given, give the nodes' MTU minus that.
      - Felix reads it live; no pod restarts. Flannel and Canal encrypt with O(backend=wireguard) instead.
    type: bool
  node_address:
    description:
      - How each node's address - the interface the CNI sends pod traffic through - is chosen, as
        C(METHOD) or C(METHOD=VALUE) (the roles' C(cni_node_address)). Host-gw and BGP route through it.
      - C(first-found) - the CNI's default (Flannel - the default route's interface; Calico C(first-found)).
      - C(interface=NAME) - that interface (Flannel C(--iface); Calico C(interface=) matching exactly that name).
      - C(interface-regex=REGEX) - the first interface matching (Flannel C(--iface-regex); Calico C(interface=)).
      - C(can-reach=IP) - the interface that routes to IP (Flannel C(--iface-can-reach); Calico C(can-reach=)).
      - C(cidr=CIDR[,CIDR]) and C(kubernetes-internal-ip) - Calico only (C(cidr=), C(kubernetes-internal-ip));
        refused for Flannel and Canal, which cannot choose that way.
      - Rendered as flanneld's C(FLANNELD_IFACE), C(FLANNELD_IFACE_REGEX) or C(FLANNELD_IFACE_CAN_REACH) env var
        (its C(--iface*) arguments are removed, since they would win) or calico-node's C(IP_AUTODETECTION_METHOD);
        a change rolls the CNI pods. Omitted, the live choice stays.
      - On a dual-stack pod network also Calico's C(IP6_AUTODETECTION_METHOD) (the Installation's
        C(nodeAddressAutodetectionV6)).
    type: str
  node_mtu:
    description:
      - The smallest MTU of the nodes' interfaces the pod network runs over (the roles' C(cni_node_mtu), taken from
        the nodes' facts). Used only where it matters - Flannel's vxlan on a dual-stack pod network without O(mtu),
        where flanneld would give pods the IPv4 MTU (the interface's minus 50) while its IPv6 device carries the
        interface's minus 70 (flannel-io/flannel#1781). Backend C(MTU) then becomes O(node_mtu) minus 20, so pods
        fit both families. Without either, a warning says so.
    type: int
  backend_options:
    description:
      - The backend options as one mapping (the roles pass their C(cni_backend_options) here), each key
        as the option of the same name; a key given both here and as an option is refused.
      - Unknown keys are refused, listing the known ones.
    type: dict
    suboptions:
      vni:
        description: As O(vni).
        type: int
      port:
        description: As O(port).
        type: int
      direct_routing:
        description: As O(direct_routing).
        type: bool
      gbp:
        description: As O(gbp).
        type: bool
      mtu:
        description: Refused, naming O(mtu), where the MTU goes (Calico takes it too).
        type: int
      psk:
        description: As O(psk); never shown in output.
        type: str
      listen_port:
        description: As O(listen_port).
        type: int
      wireguard_mode:
        description: As O(wireguard_mode).
        type: str
        choices: [separate, auto, ipv4, ipv6]
      encapsulation:
        description: As O(encapsulation).
        type: str
        choices: [Always, CrossSubnet]
      wireguard:
        description: As O(wireguard).
        type: bool
  validate_only:
    description:
      - Check the input only - against the CNI matrix, and that the manifest file of O(manifest_path) or
        O(manifest_mirror) is on this host - and contact no cluster. Needs no kubernetes library, so it
        runs before anything is installed; C(site.yml) runs it first.
      - Whether the pod CIDR agrees with a live cluster is checked by the run that contacts it.
    type: bool
    default: false
  restart:
    description:
      - C(auto) restarts the CNI pods when the configuration they read at start changed, or when they
        run an older one than the ConfigMap holds. C(always) restarts them in any case. C(never) leaves
        them; changes to the DaemonSet's pod template (Calico probes and env, the udp privilege) still
        roll out through the DaemonSet controller.
    type: str
    default: auto
    choices: [auto, always, never]
  wait:
    description:
      - After a restart, wait until every CNI pod is replaced and ready.
      - On an operator install, after a change of the Installation, watch it until the operator reports that
        generation C(Ready) (a C(Degraded) report fails the task with the operator's message).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait; on timeout the module fails and names the nodes that lag.
    type: int
    default: 300
notes:
  - Flannel never removes what the previous backend left on the nodes (C(flannel.1), C(flannel-wg),
    C(flannel.ipip), host-gw routes); the module returns them in RV(stale_node_state) for the C(cni) role to clean.
  - Running pods keep their interface MTU; when a switch lowers it, RV(workloads_to_restart) lists them.
  - An upgrade reads the installed version's manifest (from O(manifest_mirror), else its upstream URL when
    its sha256 is known) to tell the user's changes from upstream's; without it, it warns and carries only the
    ConfigMap's settings and the fields of other managers.
seealso:
  - module: kubeforge.cluster.cni_info
"""

EXAMPLES = r"""
- name: Install Flannel with the vxlan backend and kubeadm's pod CIDR
  kubeforge.cluster.cni_config:
    cni: flannel
    kubeconfig: /etc/kubernetes/admin.conf

- name: Install Calico with VXLAN across subnets only, images from a mirror registry
  kubeforge.cluster.cni_config:
    cni: calico
    backend: vxlan
    encapsulation: CrossSubnet
    pod_cidr: 192.168.0.0/16
    image_registry: registry.example.com/mirror

- name: Switch a live Flannel cluster to WireGuard
  kubeforge.cluster.cni_config:
    cni: flannel
    backend: wireguard
    psk: "{{ vault_flannel_psk }}"
  register: switch

- name: Show what the old backend left on the nodes
  ansible.builtin.debug:
    var: switch.stale_node_state

- name: Install Calico through the Tigera operator, VXLAN, interface eth1 for the node addresses
  kubeforge.cluster.cni_config:
    cni: calico
    installer: operator
    backend: vxlan
    node_address: interface=eth1

- name: Install from a local mirror on an air-gapped site
  kubeforge.cluster.cni_config:
    cni: canal
    manifest_mirror: /srv/mirror
"""

RETURN = r"""
cni:
  description: The CNI configured.
  returned: success
  type: str
  sample: calico
backend:
  description: The backend now configured (canonical name, C(bird) is returned as C(bgp)).
  returned: success
  type: str
  sample: vxlan
previous_backend:
  description: The backend the cluster had before this run; null when this run installed the CNI.
  returned: success
  type: str
  sample: vxlan
encapsulation:
  description: Calico's IPPool mode for the backend; null for bgp.
  returned: success and cni is calico
  type: str
  sample: Always
pod_cidr:
  description: The pod CIDR in force.
  returned: success
  type: str
  sample: 192.168.0.0/16
version:
  description: The CNI version running (the tag of its main image).
  returned: success
  type: str
  sample: v3.32.1
created:
  description: Objects created.
  returned: always
  type: list
  elements: str
  sample: [Namespace kube-flannel, DaemonSet kube-flannel/kube-flannel-ds]
updated:
  description: Objects patched.
  returned: always
  type: list
  elements: str
  sample: [ConfigMap kube-flannel/kube-flannel-cfg]
restarted:
  description: The CNI pods replaced (their names before the restart).
  returned: always
  type: list
  elements: str
managed_by:
  description: C(tigera-operator) when the Tigera operator installed Calico (the module wrote its Installation).
  returned: when the Tigera operator manages Calico
  type: str
  sample: tigera-operator
wireguard:
  description: Calico - whether WireGuard encryption is on after this run.
  returned: success and cni is calico
  type: bool
mtu_overhead:
  description:
    - Bytes the backend (and Calico's WireGuard) takes from the pods' MTU - 50 for vxlan, 110 with WireGuard; on a
      dual-stack pod network the larger cost of the IPv6 path (Flannel vxlan 70).
  returned: success
  type: int
  sample: 50
removed:
  description: Objects deleted because the new version no longer has them (only objects this module created).
  returned: always
  type: list
  elements: str
upgrade:
  description:
    - When the version changes - C(direction) (upgrade, downgrade, replace), C(from), C(to), the C(steps) taken,
      C(images) changed per workload, env vars and ConfigMap keys C(carried) over, objects C(removed) and
      C(left) with the reason, and the C(restarted) pods.
    - When an installed CNI keeps an older version than the collection pins, only C(available), the pinned one.
  returned: when the version changes, or a newer one is pinned
  type: dict
  sample:
    direction: upgrade
    from: v3.26.1
    to: v3.32.1
    available: null
    steps: ["applied namespaces and CRDs server-side: 5 created, 17 updated, 0 unchanged"]
    images:
      DaemonSet kube-system/calico-node: {calico-node: "docker.io/calico/node:v3.26.1 -> quay.io/calico/node:v3.32.1"}
    carried: []
    removed: []
    left: []
    restarted: [calico-node-7xk2p]
stale_node_state:
  description: Per node, the devices and routes the previous Flannel backend left, to be removed.
  returned: always
  type: list
  elements: dict
  sample: [{node: node-1, devices: [flannel.1], routes: []}]
workloads_to_restart:
  description:
    - Running pods (namespace/name) that keep the old MTU until restarted, after a switch to a smaller MTU,
      and on Flannel and Canal also to a larger one (a node's pods share the C(cni0) bridge, which takes
      the smallest MTU of its ports).
  returned: always
  type: list
  elements: str
validated:
  description: With O(validate_only), the input as it would be used (backend in its canonical name).
  returned: validate_only
  type: dict
  sample: {cni: calico, backend: bgp, pod_cidr: null, version: v3.32.1, manifest: /srv/m/calico/v3.32.1/calico.yaml}
api_requests:
  description: API requests this run made, by kind (GET, LIST, WATCH, write, dry-run).
  returned: always
  type: dict
  sample: {GET: 12, LIST: 2, WATCH: 0, write: 0, dry-run: 0}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.kubeforge.cluster.plugins.module_utils.client import KubeClient
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import KubeforgeError, ManifestError
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeconfig import (
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import check_manifest_file
from ansible_collections.kubeforge.cluster.plugins.module_utils.module_args import (
    CNI_CONFIG_MUTUALLY_EXCLUSIVE,
    cni_config_argument_spec,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.netpol import networkpolicy_warning
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import build_request
from ansible_collections.kubeforge.cluster.plugins.module_utils.runner import CniConfigRunner


def fetch_url(url):
    # Imported here: urls pulls in http.client, ssl helpers and more (about 65 ms), and most runs download nothing.
    from ansible.module_utils.urls import open_url  # noqa: PLC0415 - 65 ms, only for a download

    try:
        return open_url(url, timeout=60, follow_redirects="safe").read()
    except Exception as exc:  # open_url raises many kinds; all mean the same to the user
        raise ManifestError(
            "cannot download %s: %s; use manifest_path or manifest_mirror on a site without access" % (url, exc)
        ) from None


def main():
    module = AnsibleModule(
        argument_spec=cni_config_argument_spec(),
        mutually_exclusive=CNI_CONFIG_MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )
    try:
        request = build_request(module.params)
        if module.params["validate_only"]:
            for source in request.sources():
                check_manifest_file(source)
    except KubeforgeError as exc:
        module.fail_json(msg=str(exc))
    if module.params["validate_only"]:
        module.exit_json(changed=False, validated=request.summary())
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    runner = None
    try:
        client = KubeClient(module.params["kubeconfig"], module.params["context"])
        runner = CniConfigRunner(client, request, module.check_mode, fetch_url, module.warn)
        result = runner.run()
        warning = networkpolicy_warning(client, request.cni)
        if warning:
            module.warn(warning)
    except KubeforgeError as exc:
        partial = {}
        if runner is not None:
            # What was written before the failure, so a re-run's diff is not a surprise.
            partial = {
                "changed": runner.writer.changed,
                "created": runner.writer.created,
                "updated": runner.writer.updated,
                "api_requests": runner.client.requests,
            }
        module.fail_json(msg=str(exc), **partial)
    except Exception as exc:  # pragma: no cover - a bug: show it whole
        module.fail_json(msg="unexpected error: %s" % exc, exception=traceback.format_exc())
    result["api_requests"] = client.requests
    if module._diff:
        result["diff"] = runner.writer.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
