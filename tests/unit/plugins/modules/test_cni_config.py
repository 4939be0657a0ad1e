"""cni_config's main(): a failure after writes still reports what was written, and the requests made."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.kubeforge.cluster.plugins.module_utils.errors import ApiError
from ansible_collections.kubeforge.cluster.plugins.modules import cni_config

from ..module_utils.fake_client import FakeClient

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: kube-flannel}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: flannel, namespace: kube-flannel}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-flannel-cfg, namespace: kube-flannel}
data:
  net-conf.json: '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-flannel-ds, namespace: kube-flannel}
spec:
  template:
    metadata: {labels: {app: flannel}}
    spec:
      containers: [{name: kube-flannel, image: ghcr.io/flannel-io/flannel:v0.28.9}]
"""


class Cluster(FakeClient):
    """The fake client with server-side apply; `refuse` names the kinds whose creation is forbidden."""

    refuse = ()

    def apply(self, obj, dry_run=False):
        if obj["kind"] in self.refuse:
            raise ApiError(
                'PATCH /api/v1/namespaces/kube-flannel/serviceaccounts/flannel: serviceaccounts "flannel" is '
                "forbidden (HTTP 403)",
                status=403,
            )
        self.requests["dry-run" if dry_run else "write"] += 1
        self.put(obj)
        return obj


def live_flannel_cluster():
    """Flannel on vxlan on two nodes; its ServiceAccount is missing; its pods never get replaced."""
    net_conf = '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
    rolled_out = {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2}
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-flannel"}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-flannel-cfg", "namespace": "kube-flannel"},
            "data": {"net-conf.json": net_conf},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-flannel-ds", "namespace": "kube-flannel", "generation": 1},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "flannel"}},
                    "spec": {"containers": [{"name": "kube-flannel", "image": "ghcr.io/flannel-io/flannel:v0.28.9"}]},
                }
            },
            "status": dict(rolled_out, numberAvailable=2),
        },
    ]
    for index, node in enumerate(("node-a", "node-b")):
        objects.append(
            {
                "kind": "Node",
                "metadata": {"name": node, "labels": {"kubernetes.io/arch": "amd64"}},
                "spec": {"podCIDR": f"10.244.{index}.0/24"},
            }
        )
        objects.append(
            {
                "kind": "Pod",
                "metadata": {"name": f"kube-flannel-ds-old{index}", "namespace": "kube-flannel"},
                "spec": {"nodeName": node},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
        )
    return Cluster(objects)


def run_main(monkeypatch, capsys, tmp_path, cluster):
    manifest = tmp_path / "kube-flannel.yml"
    manifest.write_text(MANIFEST)
    monkeypatch.setattr(cni_config, "KubeClient", lambda kubeconfig, context: cluster)
    args = {"cni": "flannel", "backend": "host-gw", "manifest_path": str(manifest), "wait_timeout": 1}
    with patch_module_args(args), pytest.raises(SystemExit) as exit_status:
        cni_config.main()
    assert exit_status.value.code == 1
    return json.loads(capsys.readouterr().out)


def test_a_restart_timeout_after_writes_reports_what_was_written(monkeypatch, capsys, tmp_path):
    cluster = live_flannel_cluster()
    result = run_main(monkeypatch, capsys, tmp_path, cluster)
    assert result["failed"] is True
    assert result["msg"] == (
        "kube-flannel-ds did not finish restarting within 1s; nodes without a new ready pod: node-a, node-b"
    )
    assert result["changed"] is True
    assert result["created"] == ["ServiceAccount kube-flannel/flannel"]
    assert result["updated"] == ["ConfigMap kube-flannel/kube-flannel-cfg", "DaemonSet kube-flannel/kube-flannel-ds"]
    assert result["api_requests"] == {"GET": 2, "LIST": 8, "WATCH": 1, "write": 3, "dry-run": 0}
    assert cluster.deleted == [
        ("Pod", "kube-flannel", "kube-flannel-ds-old0"),
        ("Pod", "kube-flannel", "kube-flannel-ds-old1"),
    ]


def test_a_create_the_server_refuses_is_not_reported_as_written(monkeypatch, capsys, tmp_path):
    cluster = live_flannel_cluster()
    cluster.refuse = ("ServiceAccount",)
    result = run_main(monkeypatch, capsys, tmp_path, cluster)
    assert result["msg"].endswith('serviceaccounts "flannel" is forbidden (HTTP 403)')
    assert result["api_requests"]["write"] == 0
    assert (result["changed"], result["created"], result["updated"]) == (False, [], [])
