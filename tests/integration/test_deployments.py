"""Template deployments: azure-ai-ml's workspace template creates its workspace; other templates are refused.

The body is built from the SDK's own template and parameter files (as installed with azure-ai-ml), filled
the way ``ml.workspaces.begin_create`` fills them for a default workspace.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.integration.helpers import API, create_group, rg_path, wait_operation, ws_path
from tether.testing.server import InProcessServer

DEPLOY_API = {"api-version": "2020-06-01"}


def _sdk_file(name: str) -> Any:
    """One of the SDK's template files, read without importing azure.ai.ml (its import warns)."""
    spec = importlib.util.find_spec("azure.ai.ml")
    assert spec is not None
    assert spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "_arm_deployments" / "arm_templates"
    return json.loads((folder / name).read_text())


def deployment_path(subscription: str, group: str, name: str) -> str:
    return f"{rg_path(subscription, group)}/providers/Microsoft.Resources/deployments/{name}"


def sdk_body(workspace: str, *, group: str = "rg1", **overrides: Any) -> dict[str, Any]:
    """The deployment body ml.workspaces.begin_create(Workspace(name=workspace, location="westeurope")) sends."""
    template, param = _sdk_file("workspace_base.json"), _sdk_file("workspace_param.json")
    values = {
        "workspaceName": workspace,
        "friendlyName": workspace,
        "description": workspace,
        "location": "westeurope",
        "kind": "default",
        "resourceGroupName": group,
        "keyVaultName": f"{workspace}keyvault0123",
        "keyVaultResourceGroupName": group,
        "storageAccountName": f"{workspace}storage0123",
        "storageAccountResourceGroupName": group,
        "logAnalyticsName": f"{workspace}logalytic0123",
        "applicationInsightsName": f"{workspace}insights0123",
        "applicationInsightsResourceGroupName": group,
        "tagValues": {"createdByToolkit": "sdk-v2-1.35.2"},
        "identity": {"type": "SystemAssigned"},
        "managedNetwork": {"isolationMode": "Disabled"},
        **overrides,
    }
    for key, value in values.items():
        param[key]["value"] = value
    return {"properties": {"template": template, "parameters": param, "mode": "incremental"}}


async def test_the_sdk_workspace_template_creates_the_workspace_and_answers_as_arm(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    path = deployment_path(server.subscription, "rg1", "ws1-1234")

    response = await client.put(path, params=DEPLOY_API, json=sdk_body("ws1"))

    assert response.status_code == 201, response.text
    assert response.json()["properties"]["provisioningState"] == "Accepted"
    assert response.headers["Retry-After"] == "1"
    status = await wait_operation(client, response.headers["Azure-AsyncOperation"])
    assert status["status"] == "Succeeded"
    deployment = (await client.get(path, params=DEPLOY_API)).json()
    assert deployment["type"] == "Microsoft.Resources/deployments"
    assert deployment["properties"]["provisioningState"] == "Succeeded"
    assert deployment["properties"]["duration"].startswith("PT")
    workspace = (await client.get(ws_path(server.subscription, "rg1", "ws1"), params=API)).json()
    assert workspace["properties"]["provisioningState"] == "Succeeded"
    assert workspace["location"] == "westeurope"
    assert workspace["tags"] == {"createdByToolkit": "sdk-v2-1.35.2"}
    assert workspace["identity"]["type"] == "SystemAssigned"
    assert workspace["identity"]["principalId"]
    storage = workspace["properties"]["storageAccount"]  # Tether's default storage, as for any workspace
    assert [r["id"] for r in deployment["properties"]["outputResources"]] == [storage, workspace["id"]]

    short = f"{rg_path(server.subscription, 'rg1')}/deployments/ws1-1234/operations"  # ARM's path for them
    operations = (await client.get(short, params=DEPLOY_API)).json()["value"]
    assert operations == (await client.get(f"{path}/operations", params=DEPLOY_API)).json()["value"]
    assert [o["properties"]["targetResource"]["resourceType"] for o in operations] == [
        "Microsoft.Storage/storageAccounts",
        "Microsoft.MachineLearningServices/workspaces",
    ]
    assert {o["properties"]["provisioningState"] for o in operations} == {"Succeeded"}
    one = (await client.get(f"{path}/operations/{operations[1]['operationId']}", params=DEPLOY_API)).json()
    assert one == operations[1]
    listed = (await client.get(f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.Resources/deployments",
                               params=DEPLOY_API)).json()  # fmt: skip
    assert [d["name"] for d in listed["value"]] == ["ws1-1234"]


async def test_a_user_assigned_identity_and_an_existing_storage_account_are_honoured(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    group = rg_path(server.subscription, "rg1")
    identity = (await client.put(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai",
                                 params=API, json={"location": "westeurope"})).json()  # fmt: skip
    account = await client.put(f"{group}/providers/Microsoft.Storage/storageAccounts/mystore",
                               params=API, json={"location": "westeurope", "kind": "StorageV2",
                                                 "sku": {"name": "Standard_LRS"}})  # fmt: skip
    assert account.status_code in (200, 201, 202), account.text
    body = sdk_body(
        "ws2",
        identity={"type": "UserAssigned", "userAssignedIdentities": {identity["id"]: {}}},
        primaryUserAssignedIdentity=identity["id"],
        storageAccountOption="existing",
        storageAccountName="mystore",
        storageAccountSubscriptionId=server.subscription.rsplit("/", 1)[-1],
    )

    response = await client.put(deployment_path(server.subscription, "rg1", "d2"), params=DEPLOY_API, json=body)

    assert response.status_code == 201, response.text
    await wait_operation(client, response.headers["Azure-AsyncOperation"])
    workspace = (await client.get(ws_path(server.subscription, "rg1", "ws2"), params=API)).json()
    assert workspace["identity"]["type"] == "UserAssigned"
    assert workspace["properties"]["primaryUserAssignedIdentity"].lower() == identity["id"].lower()
    assert workspace["properties"]["storageAccount"].lower().endswith("/storageaccounts/mystore")


def _other_template() -> dict[str, Any]:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "name": "x", "apiVersion": "2023-01-01"}],
    }
    return {"properties": {"template": template, "mode": "Incremental"}}


def _link() -> dict[str, Any]:
    return {"properties": {"templateLink": {"uri": "https://127.0.0.1/t.json"}, "mode": "Incremental"}}


def _complete() -> dict[str, Any]:
    body = sdk_body("ws3")
    body["properties"]["mode"] = "Complete"
    return body


def _tampered() -> dict[str, Any]:
    body = sdk_body("ws3")
    extra = copy.deepcopy(body["properties"]["template"]["resources"][-1])
    body["properties"]["template"]["resources"].append({**extra, "type": "Microsoft.Compute/virtualMachines"})
    return body


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(_other_template(), 400, "InvalidTemplate", id="another-template"),
        pytest.param(_tampered(), 400, "InvalidTemplate", id="sdk-template-plus-another-type"),
        pytest.param(_link(), 400, "InvalidTemplate", id="template-link"),
        pytest.param(_complete(), 400, "InvalidDeploymentMode", id="complete-mode"),
        pytest.param({"properties": "x"}, 400, "InvalidRequestContent", id="properties-not-object"),
        pytest.param(sdk_body("ws3", kind="hub"), 400, "InvalidTemplateDeployment", id="hub-kind"),
        pytest.param(sdk_body("ws3", encryption_status="Enabled"), 400, "InvalidTemplateDeployment", id="cmk"),
        pytest.param(sdk_body("ws3", publicNetworkAccess="Disabled"), 400, "InvalidTemplateDeployment", id="pna"),
        pytest.param(sdk_body("ws3", keyVaultOption="existing"), 400, "InvalidTemplateDeployment", id="key-vault"),
        pytest.param(
            sdk_body("ws3", managedNetwork={"isolationMode": "AllowOnlyApprovedOutbound"}),
            400,
            "InvalidTemplateDeployment",
            id="managed-network",
        ),
        pytest.param(sdk_body("ws3", resourceGroupName="rg9"), 400, "InvalidTemplateDeployment", id="other-group"),
        pytest.param(sdk_body("bad name!"), 400, "InvalidResourceName", id="bad-workspace-name"),
        pytest.param(sdk_body("ws3", tagValues="x"), 400, "InvalidRequestContent", id="tags-not-object"),
        pytest.param(sdk_body("ws3", identity="x"), 400, "InvalidRequestContent", id="identity-not-object"),
        pytest.param(sdk_body("ws3", kind=7), 400, "InvalidTemplate", id="kind-not-text"),
        pytest.param({"properties": {"template": {"resources": [1, "x"]}}}, 400, "InvalidTemplate", id="junk"),
    ],
)
async def test_refusals_say_what_is_supported_and_change_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    await create_group(client, server.subscription)
    path = deployment_path(server.subscription, "rg1", "d3")

    response = await client.put(path, params=DEPLOY_API, json=body)

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    if code.startswith("InvalidTemplate"):
        assert "ml.workspaces.begin_create" in response.json()["error"]["message"]
    assert (await client.get(path, params=DEPLOY_API)).json()["error"]["code"] == "DeploymentNotFound"
    workspaces = f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.MachineLearningServices/workspaces"
    assert (await client.get(workspaces, params=API)).json()["value"] == []


async def test_a_missing_group_is_resource_group_not_found(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    response = await client.put(
        deployment_path(server.subscription, "nogroup", "d"), params=DEPLOY_API, json=sdk_body("ws", group="nogroup")
    )

    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"


async def test_deleting_a_deployment_keeps_its_workspace(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription)
    path = deployment_path(server.subscription, "rg1", "d4")
    created = await client.put(path, params=DEPLOY_API, json=sdk_body("ws4"))
    await wait_operation(client, created.headers["Azure-AsyncOperation"])

    deleted = await client.delete(path, params=DEPLOY_API)

    assert deleted.status_code == 200
    assert (await client.get(path, params=DEPLOY_API)).status_code == 404
    assert (await client.get(ws_path(server.subscription, "rg1", "ws4"), params=API)).status_code == 200
