#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cni_verify
short_description: Verify the pod network of a live cluster with probe pods on every node
version_added: 0.1.0
description:
  - Starts, on every Ready node, a target pod on the pod network (an HTTP server on port 8080,
    C(/agnhost netexec --http-port=8080)), then a prober pod on the pod network and one on the host
    network. The probers get the targets' addresses, run a busybox C(sh) script and exit; their logs are
    the result. No C(kubectl exec) is needed.
  - "Checks, for ordered pairs of distinct nodes: pod to pod (ICMP ping with its round-trip time; TCP, an
    HTTP GET of the target's port 8080), host to pod (from the host-network prober, ICMP and TCP), and the
    MTU: one ping whose packet is exactly the prober pod's C(eth0) MTU, the first packet to that address. Linux
    sets Don't Fragment on it over IPv4, and no router fragments IPv6, so it fails where the path between the
    nodes (a VXLAN device, a tunnel, the underlay) carries less than the pods' MTU - the classic VXLAN MTU
    mismatch that lets small packets through and stalls large transfers."
  - "On a dual-stack cluster every check of a pair but the Service's runs once per address family (IPv4 and
    IPv6, the families of the pods' C(status.podIPs)). A family the prober or the target has no address of is
    skipped, not failed, with a warning - for instance host to pod over IPv6 where the node reports no IPv6
    address (a host-network prober's addresses are its node's, the pods' C(status.hostIPs))."
  - "Where kube-proxy runs (a C(kube-proxy) DaemonSet in C(kube-system)), every pod prober also fetches
    a ClusterIP Service in front of all targets (as many requests as nodes, at most 3); otherwise that check
    is skipped with a warning."
  - Everything runs in one namespace labelled C(app.kubernetes.io/managed-by=kubeforge) and
    C(app.kubernetes.io/name=cni-verify). Leftovers of an interrupted run (namespaces with those labels) are
    deleted first, and the namespace is deleted at the end, also when a check fails.
  - On large clusters a bounded sample of the pairs is probed (O(max_pairs)); every node is still probed as
    a source and as a target.
  - On a cluster without a data plane (kwok's fake nodes, annotation C(kwok.x-k8s.io/node=fake)) nothing is
    probed; the result says why with RV(verified=false) and a warning, never a success.
  - Warns when Flannel is installed (its own DaemonSet, not Canal) and NetworkPolicy objects exist, since
    Flannel does not enforce them.
  - Fails, naming each node pair (on a dual-stack cluster with its family) and what failed of it, when any check
    fails.
author:
  - kubeforge maintainers (@kubeforge)
extends_documentation_fragment:
  - kubeforge.cluster.kube_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the cluster.
    support: full
    details: In check mode it reads the nodes and creates nothing; RV(verified) is false and RV(reason) says so.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode).
    support: none
options:
  namespace:
    description:
      - The namespace the probe pods run in; created, then deleted. An existing namespace of that name without
        cni_verify's labels is refused.
    type: str
    default: kubeforge-verify
  probe_image:
    description:
      - The image of every probe pod. It needs C(/agnhost netexec --http-port=N) (an HTTP server answering
        C(GET /), on IPv6 too for a dual-stack cluster) and busybox's C(sh), C(cat), C(ping), C(wget), C(sed)
        and C(timeout) on the PATH, built with IPv6 for a dual-stack cluster, as the upstream agnhost image has
        them.
    type: str
    default: registry.k8s.io/e2e-test-images/agnhost:2.63.0
  image_registry:
    description:
      - A registry mirror that replaces the registry of O(probe_image), as for cni_config
        (C(registry.k8s.io/e2e-test-images/agnhost:2.63.0) with C(mirror.local/k8s) becomes
        C(mirror.local/k8s/e2e-test-images/agnhost:2.63.0)).
    type: str
  image_pull_policy:
    description: The probe pods' C(imagePullPolicy).
    type: str
    default: IfNotPresent
    choices: [Always, IfNotPresent, Never]
  check_mtu:
    description:
      - Run the full-MTU don't-fragment ping between pods. Turn it off right after a backend switch that
        changed the MTU while pods started on the old MTU still run (cni_config's C(workloads_to_restart)).
        On Flannel their veths hold the node's C(cni0) bridge at the old, smaller MTU, so the check fails
        until they are restarted.
    type: bool
    default: true
  max_pairs:
    description:
      - At most this many ordered node pairs are probed per path (pod and host). With more pairs than that, whole
        rotations of the node list are probed (each node once as a source and once as a target per rotation,
        the offsets spread over the list), so at least one pair per node even when O(max_pairs) is smaller
        than the number of nodes.
    type: int
    default: 50
  timeout:
    description:
      - Seconds for the whole verification (leftovers gone, targets ready, probers finished). When it passes,
        the module fails naming the probe pods that did not finish, and still deletes its namespace.
    type: int
    default: 120
notes:
  - C(changed) is always false; the cluster is left as it was found (the namespace is gone or terminating).
  - Not checked here - NetworkPolicy enforcement (a deny-all policy that must block traffic), DNS, NodePort and
    a Service of each family (the probe Service has the cluster's primary family, IPv4).
seealso:
  - module: kubeforge.cluster.cni_config
  - module: kubeforge.cluster.cni_info
"""

EXAMPLES = r"""
- name: Verify the pod network after switching the backend
  kubeforge.cluster.cni_verify:
    kubeconfig: /etc/kubernetes/admin.conf
  register: verify

- name: Air-gapped - the agnhost image from a mirror, a larger sample, more time
  kubeforge.cluster.cni_verify:
    kubeconfig: /etc/kubernetes/admin.conf
    image_registry: registry.example.com/k8s
    max_pairs: 200
    timeout: 300

- name: Report without failing the play
  kubeforge.cluster.cni_verify:
    kubeconfig: /etc/kubernetes/admin.conf
  register: verify
  failed_when: false

- name: Show the failures
  ansible.builtin.debug:
    var: verify.failures
  when: not verify.verified
"""

RETURN = r"""
verified:
  description: True when every check passed on every probed pair; false when nothing was probed or a check failed.
  returned: always
  type: bool
reason:
  description: Why the network is not verified (check mode, fake nodes, the failures); null when verified.
  returned: always
  type: str
  sample: "nodes kwok-node-0 are kwok's fake nodes (annotation kwok.x-k8s.io/node=fake): ..."
nodes:
  description: Every node of the cluster.
  returned: always
  type: list
  elements: str
pod_mtu:
  description: The MTU of C(eth0) in the pod-network prober of each node (one for both families).
  returned: always
  type: dict
  sample: {kf-node-1: 1450, kf-node-2: 1450}
pairs:
  description:
    - One entry per probed (source, target, path, family). C(path) is C(pod) (pod to pod), C(host) (host network
      to pod) or C(service) (pod to the probe Service's ClusterIP; C(target) is C(service <ClusterIP>)).
    - C(family) is C(IPv4) or C(IPv6), the address family of the check (the ClusterIP's for the service). A
      single-stack cluster has one entry per (source, target, path), a dual-stack one two, IPv4 first.
    - C(icmp) (C(ok), C(rtt_ms), the average round trip), C(tcp) (C(ok); for the service also C(succeeded)
      and C(attempts)) and C(mtu) (C(ok), C(payload), the ICMP payload that makes a packet of the pod's MTU -
      the MTU less 28 bytes over IPv4, less 48 over IPv6; pod path only) are null where they do not apply.
    - An entry that could not be checked (the prober or the target has no address of its family) has them all
      null and C(skipped), why; it is not a failure and not counted in RV(checks). Only such entries have
      C(skipped).
  returned: always
  type: list
  elements: dict
  sample:
    - {source: kf-node-1, target: kf-node-2, path: pod, family: IPv4, icmp: {ok: true, rtt_ms: 0.123},
       tcp: {ok: true}, mtu: {ok: true, payload: 1422}}
    - {source: kf-node-1, target: kf-node-2, path: pod, family: IPv6, icmp: {ok: true, rtt_ms: 0.131},
       tcp: {ok: true}, mtu: {ok: true, payload: 1402}}
    - {source: kf-node-1, target: kf-node-2, path: host, family: IPv6, icmp: null, tcp: null, mtu: null,
       skipped: the host network of kf-node-1 has no IPv6 address}
sampled:
  description: Whether only a sample of the node pairs was probed (see O(max_pairs)).
  returned: always
  type: bool
pairs_checked:
  description: How many ordered node pairs were probed (per path, each in every family).
  returned: always
  type: int
pairs_total:
  description: How many ordered pairs of distinct nodes there are.
  returned: always
  type: int
checks:
  description: How many entries of RV(pairs) were checked (all but the skipped ones).
  returned: always
  type: int
service:
  description: The ClusterIP of the probe Service; null when kube-proxy does not run (check skipped).
  returned: always
  type: str
failures:
  description:
    - One line per failed entry of RV(pairs), C(source -> target (path) - what failed), and nodes not probed.
    - On a dual-stack cluster each line names the family, C(source -> target (path, family) - what failed); a
      single-stack cluster's lines name none.
  returned: always
  type: list
  elements: str
  sample:
    - "kf-node-1 -> kf-node-3 (pod, IPv6): icmp, tcp"
    - "kf-node-2 -> kf-node-1 (pod, IPv6): mtu (ping of 1402 bytes unfragmented)"
cleaned_up:
  description: True when the probe namespace was gone before the module returned; null while it is still terminating.
  returned: always
  type: bool
timings:
  description:
    - Seconds each phase took - C(leftovers) (an earlier run's namespace gone), C(targets_ready), C(probes)
      (probers created until all finished), C(cleanup) (delete and watch the namespace go, at most 10 s), C(total).
  returned: when the module probed
  type: dict
  sample: {leftovers: 0.01, targets_ready: 3.1, probes: 4.2, cleanup: 5.0, total: 12.5}
api_requests:
  description: API requests this run made, by kind.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.kubeforge.cluster.plugins.module_utils.client import KubeClient
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import KubeforgeError
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeconfig import (
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.module_args import cni_verify_argument_spec
from ansible_collections.kubeforge.cluster.plugins.module_utils.verify_run import Verifier, VerifyFailed


def main():
    module = AnsibleModule(argument_spec=cni_verify_argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    params = module.params
    client = None
    verifier = None
    try:
        client = KubeClient(params["kubeconfig"], params["context"])
        verifier = Verifier(client, params, check_mode=module.check_mode)
        result = verifier.run()
    except VerifyFailed as exc:
        for warning in verifier.warnings:
            module.warn(warning)
        module.fail_json(msg=str(exc), changed=False, api_requests=client.requests, **exc.result)
    except KubeforgeError as exc:
        for warning in verifier.warnings if verifier else []:
            module.warn(warning)
        module.fail_json(msg=str(exc), changed=False, **({"api_requests": client.requests} if client else {}))
    for warning in verifier.warnings:
        module.warn(warning)
    module.exit_json(changed=False, api_requests=client.requests, **result)


if __name__ == "__main__":
    main()
