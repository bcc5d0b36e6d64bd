"""The real az over Tether's own types: az rest (the seed's attach body), az resource, az provider,
az account list-locations, az aks (ML and k8s-extension az extensions need the internet to install)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.az.conftest import Az

pytestmark = pytest.mark.e2e

ML = "Microsoft.MachineLearningServices"
# A kubeconfig for a cluster that is not running (loopback port 9): registering it needs no cluster.
_KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
)


def _url(az: Az, path: str, api_version: str) -> str:
    return f"{az.server.url}/subscriptions/{az.subscription}{path}?api-version={api_version}"


def test_az_rest_attaches_a_kubernetes_compute_and_az_resource_lists_it(az: Az, tmp_path: Path) -> None:
    az.run("group", "create", "-n", "az-ml", "-l", "westeurope", "-o", "none")
    # A workspace through az resource create (a long-running PUT that az polls to the end).
    # (az writes this one as '.../providers/Microsoft.MachineLearningServices//workspaces/ws1'.)
    workspace = az.json(
        "resource", "create", "-g", "az-ml", "-n", "ws1", "--resource-type", f"{ML}/workspaces",
        "-l", "westeurope", "--properties", "{}",
    )  # fmt: skip
    assert workspace["properties"]["provisioningState"] == "Succeeded"

    # The seed's attach, as the SDK sends it: lower-case 'managedclusters' in the cluster id.
    cluster_id = (
        f"/subscriptions/{az.subscription}/resourceGroups/az-ml/providers/Microsoft.ContainerService/managedclusters/c1"
    )
    body = {
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {"computeType": "Kubernetes", "resourceId": cluster_id, "properties": {"namespace": "team-a"}},
    }
    body_file = tmp_path / "attach.json"
    body_file.write_text(json.dumps(body))
    compute_path = f"/resourceGroups/az-ml/providers/{ML}/workspaces/ws1/computes/k8s-compute"
    attached = az.json(
        "rest", "--method", "put", "--url", _url(az, compute_path, "2023-08-01-preview"), "--body", f"@{body_file}"
    )
    assert attached["name"] == "k8s-compute"
    assert attached["properties"]["computeType"] == "Kubernetes"
    assert attached["properties"]["provisioningState"] == "Creating"
    assert attached["properties"]["properties"]["namespace"] == "team-a"
    assert attached["identity"]["type"] == "SystemAssigned"

    listed = az.json("resource", "list", "-g", "az-ml")
    by_type = {r["type"]: r["name"] for r in listed}
    assert by_type[f"{ML}/workspaces"] == "ws1"
    assert by_type[f"{ML}/workspaces/computes"] == "k8s-compute"
    compute_id = next(r["id"] for r in listed if r["type"] == f"{ML}/workspaces/computes")
    shown = az.json("resource", "show", "--ids", compute_id)
    assert shown["properties"]["computeType"] == "Kubernetes"
    assert az.json("resource", "list", "--resource-type", f"{ML}/workspaces", "--query", "[].name") == ["ws1"]
    by_name = az.json("resource", "show", "-g", "az-ml", "-n", "ws1", "--resource-type", f"{ML}/workspaces")
    assert by_name["id"] == workspace["id"]
    assert az.json("resource", "tag", "--ids", workspace["id"], "--tags", "team=ml")["tags"] == {"team": "ml"}
    assert az.json("resource", "list", "--tag", "team=ml", "--query", "[].name") == ["ws1"]


def test_providers_and_locations(az: Az) -> None:
    namespaces = az.json("provider", "list", "--query", "[].namespace")
    assert {ML, "Microsoft.ContainerService", "Microsoft.ManagedIdentity"} <= set(namespaces)
    ml = az.json("provider", "show", "-n", ML.lower())
    assert ml["registrationState"] == "Registered"
    computes = next(t for t in ml["resourceTypes"] if t["resourceType"] == "workspaces/computes")
    assert computes["apiVersions"]
    missing = az.run("provider", "show", "-n", "Microsoft.Nothing", expect=3)
    assert "InvalidResourceNamespace" in missing.stderr
    locations = az.json("account", "list-locations", "--query", "[].name")
    assert "westeurope" in locations
    assert "eastus" in locations


def test_aks_list_show_and_get_credentials(az: Az, tmp_path: Path) -> None:
    az.run("group", "create", "-n", "az-aks", "-l", "westeurope", "-o", "none")
    cluster_path = "/resourceGroups/az-aks/providers/Microsoft.ContainerService/managedClusters/c1"
    body = {"location": "westeurope", "properties": {"kubeconfig": _KUBECONFIG}}
    body_file = tmp_path / "cluster.json"
    body_file.write_text(json.dumps(body))
    az.run("rest", "--method", "put", "--url", _url(az, cluster_path, "2024-09-01"), "--body", f"@{body_file}")
    assert az.json("aks", "list", "-g", "az-aks", "--query", "[].name") == ["c1"]
    assert az.json("aks", "show", "-g", "az-aks", "-n", "c1")["name"] == "c1"

    for extra in ((), ("--admin",)):
        target = tmp_path / f"kubeconfig{len(extra)}"
        az.run("aks", "get-credentials", "-g", "az-aks", "-n", "c1", "--file", str(target), *extra)
        written = yaml.safe_load(target.read_text())
        assert written["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:9"
