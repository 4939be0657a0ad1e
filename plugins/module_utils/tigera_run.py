# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cni_config's run on Calico installed by the Tigera operator: the operator installed from its release files
when missing, then one write - the Installation - and FelixConfiguration's features; never calico-node or the
IP pools, which the operator owns. Waits, by a watch, for the operator to report the Installation Ready."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeforge.cluster.plugins.module_utils.calico import write_felix_configuration
from ansible_collections.kubeforge.cluster.plugins.module_utils.cni_matrix import CNIS
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import InputError, LiveStateError, WaitTimeout
from ansible_collections.kubeforge.cluster.plugins.module_utils.manifest import image_tag, parse_manifest, read_manifest
from ansible_collections.kubeforge.cluster.plugins.module_utils.pod_cidr import decide_pod_cidr
from ansible_collections.kubeforge.cluster.plugins.module_utils.request import check_operator_request
from ansible_collections.kubeforge.cluster.plugins.module_utils.tigera import (
    OPERATOR,
    check_expressible,
    desired_installation,
    installation_network,
    installation_state,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.waiter import wait_crd_established, watch_until

MANIFEST_CALICO = CNIS["calico"]["daemonset"]


class OperatorRun:
    """runner: the CniConfigRunner whose client, request, Writer and LiveCluster this run uses."""

    def __init__(self, runner):
        self.runner = runner
        self.client, self.req, self.live, self.writer = runner.client, runner.req, runner.live, runner.writer

    def run(self):
        runner, req, live, client = self.runner, self.req, self.live, self.client
        self.refuse_other_installer()
        check_operator_request(req)
        installed = live.installation
        runner.pod_cidr = decide_pod_cidr(
            req.pod_cidr,
            req.cni,
            live.kubeadm_subnet,
            installation_network(installed)["pod_cidr"],
            live.node_pod_cidrs(),
            req.backend,
        )
        check_expressible(installed, req.backend)
        self.check_version()
        runner.old_backend = installation_network(installed)["backend"]
        runner.installing = installed is None
        if live.operator_deployment is None:
            self.install_operator()
        installation, changed = self.writer.ensure(
            installed,
            lambda current: desired_installation(current, req, runner.pod_cidr),
            lambda: client.get(OPERATOR["api_version"], "Installation", OPERATOR["installation"]),
        )
        # WireGuard is FelixConfiguration's wireguardEnabled on an operator install too (Calico's "Encrypt in-cluster
        # pod traffic"): the operator leaves that field to the user, its encapsulation fields are the operator's.
        write_felix_configuration(runner, None)
        if changed and req.wait and not runner.check_mode:
            installation = self.wait_ready(installation)
        runner.daemonset = live.daemonset
        result = runner.report()
        result["managed_by"] = "tigera-operator"
        result["version"] = (
            result["version"] or ((installation.get("status") or {}).get("calicoVersion")) or self.version_written()
        )
        return result

    def refuse_other_installer(self):
        req, live = self.req, self.live
        if req.installer == "operator" and live.installer == "manifest":
            raise LiveStateError(
                "Calico is installed from its manifest here (DaemonSet %s/%s); installer=operator would start the "
                "operator's calico-node beside it. Moving a manifest install to the operator is Calico's own "
                "procedure (docs.tigera.io: Migrate Calico to an operator-managed installation); after it, "
                "cni_config configures the Installation. Or leave installer unset to configure this install"
                % (CNIS["calico"]["namespace"], MANIFEST_CALICO)
            )
        if req.installer == "manifest" and live.installer == "operator":
            raise LiveStateError(
                "Calico is installed by the Tigera operator here (%s); installer=manifest would install calico.yaml "
                "beside it. Leave installer unset (or installer=operator) to configure it through its Installation"
                % live.operator_evidence()
            )

    def installed_version(self):
        status = (self.live.installation or {}).get("status") or {}
        daemonset = self.live.daemonset
        return (image_tag(daemonset, CNIS["calico"]["calico_container"]) if daemonset else None) or status.get(
            "calicoVersion"
        )

    def check_version(self):
        installed = self.installed_version()
        if self.req.version_given and installed and installed != self.req.version:
            raise InputError(
                "Calico %s is installed by the Tigera operator, which upgrades it: apply the operator's release files "
                "of %s (operator-crds.yaml, then tigera-operator.yaml, server-side) and it rolls Calico over; "
                "cni_config does not change an operator install's version. Omit version="
                % (installed, self.req.version)
            )

    def version_written(self):
        return self.req.version if self.writer.created else None

    def install_operator(self):
        """The operator's CRDs, then the operator, each object created where missing (existing ones are adopted);
        its Deployment with the image registry."""
        runner = self.runner
        objects = []
        for file_name in OPERATOR["manifests"]:
            source = self.req.source.operator_file(file_name)
            text, warnings = read_manifest(source, runner.fetch_url)
            for warning in warnings:
                runner.warn(warning)
            objects.extend(parse_manifest(text, source.describe()))
        runner.ensure_missing_objects(sorted(objects, key=lambda obj: obj["kind"] != "CustomResourceDefinition"))
        if self.writer.created and not runner.check_mode:
            for crd in OPERATOR["crds"]:
                wait_crd_established(self.client, crd)

    def wait_ready(self, installation):
        """Watch the Installation until the operator reports this generation Ready (or Degraded)."""
        found = {}
        generation = installation["metadata"].get("generation", 0)

        def ready(items):
            current = next(iter(items.values()), installation)
            found["object"] = current
            done, failure = installation_state(current)
            if failure:
                raise LiveStateError(
                    "the Tigera operator reports Installation %s Degraded: %s; see kubectl get tigerastatus calico"
                    % (OPERATOR["installation"], failure)
                )
            return done

        field_selector = "metadata.name=%s" % OPERATOR["installation"]
        timeout = self.req.wait_timeout
        if not watch_until(self.client, OPERATOR["api_version"], "Installation", ready, timeout, None, field_selector):
            raise WaitTimeout(
                "the Tigera operator did not report Installation %s Ready for generation %s within %ss (is it running? "
                "kubectl -n %s logs deploy/%s; kubectl get tigerastatus calico)"
                % (OPERATOR["installation"], generation, timeout, OPERATOR["deployment"][0], OPERATOR["deployment"][1])
            )
        return found.get("object", installation)
