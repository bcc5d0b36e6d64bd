"""PATCH on a workspace (``ml.workspaces.begin_update``): tags, description and display name change in
place; a change Tether cannot honour is refused naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.integration.helpers import API, create_group, create_workspace, ws_path
from tether.testing.server import InProcessServer


def sdk_patch(**properties: Any) -> dict[str, Any]:
    """The body begin_update sends for an unchanged default workspace, with ``properties`` changed."""
    return {
        "tags": {"team": "a"},
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "description": "ws1",
            "friendlyName": "ws1",
            "publicNetworkAccess": None,
            "imageBuildCompute": None,
            "managedNetwork": {"isolationMode": "Disabled"},
            "allowRoleAssignmentOnRG": None,
            "containerRegistry": None,
            "applicationInsights": None,
            **properties,
        },
    }


async def test_patch_changes_tags_description_and_display_name(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    await create_workspace(client, server.subscription, "rg1", "ws1")
    path = ws_path(server.subscription, "rg1", "ws1")

    response = await client.patch(path, params=API, json=sdk_patch(description="new", friendlyName="Team A"))

    assert response.status_code == 200, response.text
    got = (await client.get(path, params=API)).json()
    assert got == response.json()
    assert got["tags"] == {"team": "a"}
    assert got["properties"]["description"] == "new"
    assert got["properties"]["friendlyName"] == "Team A"
    assert got["properties"]["provisioningState"] == "Succeeded"


@pytest.mark.parametrize(
    ("body", "target"),
    [
        pytest.param(sdk_patch(publicNetworkAccess="Disabled"), "properties.publicNetworkAccess", id="pna"),
        pytest.param(sdk_patch(containerRegistry="/subscriptions/x/acr"), "properties.containerRegistry", id="acr"),
        pytest.param(
            sdk_patch(managedNetwork={"isolationMode": "AllowInternetOutbound"}), "properties.managedNetwork", id="net"
        ),
        pytest.param(
            {**sdk_patch(), "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/x": {}}}},
            "identity",
            id="identity",
        ),
    ],
)
async def test_a_change_tether_cannot_honour_is_refused_and_nothing_changes(
    server: InProcessServer, client: httpx2.AsyncClient, body: dict[str, Any], target: str
) -> None:
    await create_group(client, server.subscription)
    before = await create_workspace(client, server.subscription, "rg1", "ws1")
    path = ws_path(server.subscription, "rg1", "ws1")

    response = await client.patch(
        path, params=API, json={**body, "properties": {**body["properties"], "description": "x"}}
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "InvalidRequestContent"
    assert response.json()["error"]["target"] == target
    assert (await client.get(path, params=API)).json() == before


async def test_patch_on_a_missing_workspace_is_workspace_not_found(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)

    response = await client.patch(ws_path(server.subscription, "rg1", "nope"), params=API, json=sdk_patch())

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "WorkspaceNotFound"
