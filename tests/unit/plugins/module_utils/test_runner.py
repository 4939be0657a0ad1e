"""cni_config's reconciler on the fake client: how it finds which of the manifest's objects exist."""

from __future__ import annotations

from ansible_collections.kubeforge.cluster.plugins.module_utils.request import build_request
from ansible_collections.kubeforge.cluster.plugins.module_utils.runner import CniConfigRunner

from .fake_client import FakeClient


def obj(kind, name, namespace=None, api_version="rbac.authorization.k8s.io/v1"):
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


class CreatingClient(FakeClient):
    def apply(self, new, dry_run=False):
        self.requests["dry-run" if dry_run else "write"] += 1
        self.put(new)
        return new


def test_existing_objects_are_found_with_one_list_per_kind_and_namespace_and_only_the_missing_created():
    client = CreatingClient([obj("ClusterRole", "a"), obj("ClusterRole", "b"), obj("ServiceAccount", "x", "ns", "v1")])
    runner = CniConfigRunner(client, build_request({"cni": "flannel", "manifest_mirror": "/srv/mirror"}))
    manifest = [
        obj("ClusterRole", "a"),
        obj("ClusterRole", "b"),
        obj("ClusterRole", "c"),
        obj("ServiceAccount", "x", "ns", "v1"),
        obj("ServiceAccount", "y", "other", "v1"),
    ]
    runner.ensure_missing_objects(manifest)
    assert runner.writer.created == ["ClusterRole c", "ServiceAccount other/y"]
    # ClusterRoles, ServiceAccounts in ns, ServiceAccounts in other: three LISTs for five objects, no GET.
    assert client.requests == {"GET": 0, "LIST": 3, "WATCH": 0, "write": 2, "dry-run": 0}
