"""User-assigned identities, workspace identities, and acting as a resource's identity."""

from __future__ import annotations

import httpx2
import pytest

from tests.integration.helpers import API, create_group, create_workspace, rg_path, wait_operation, ws_path
from tether.domain.ids import parse_resource_id
from tether.identity.managed import acting_as
from tether.store import resources
from tether.testing.server import InProcessServer

IDENTITIES = "providers/Microsoft.ManagedIdentity/userAssignedIdentities"


async def _identity(client: httpx2.AsyncClient, subscription: str, name: str) -> dict[str, object]:
    response = await client.put(f"{rg_path(subscription, 'rg1')}/{IDENTITIES}/{name}", params=API, json={})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_an_identity_is_a_principal_with_client_and_tenant_ids(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)

    identity = await _identity(client, server.subscription, "team-a-id")

    properties = identity["properties"]
    assert isinstance(properties, dict)
    assert properties["tenantId"] == server.bootstrap.tenant_id
    found = (await client.get(f"/v1.0/servicePrincipals/{properties['principalId']}", params=API)).json()
    assert found["appId"] == properties["clientId"]
    assert found["displayName"] == "team-a-id"
    assert found["servicePrincipalType"] == "ManagedIdentity"


async def test_a_workspace_can_use_a_user_assigned_identity_named_without_its_leading_slash(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    identity = await _identity(client, server.subscription, "ws-id")
    seed_style_id = str(identity["id"]).lstrip("/")  # the seed writes identity ids this way

    response = await client.put(
        ws_path(server.subscription, "rg1", "ws1"),
        params=API,
        json={"identity": {"type": "user_assigned"}, "properties": {"primaryUserAssignedIdentity": seed_style_id}},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["identity"]["type"] == "UserAssigned"
    (only,) = body["identity"]["userAssignedIdentities"].values()
    assert only["principalId"] == identity["properties"]["principalId"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("identity_id", "status", "code"),
    [
        ("/subscriptions/{sub}/resourceGroups/rg1/" + IDENTITIES + "/missing", 404, "IdentityNotFound"),
        ("/subscriptions/{sub}/resourceGroups/rg1", 400, "InvalidResourceId"),
        ("not-an-id", 400, "InvalidResourceId"),
    ],
    ids=["missing", "wrong-type", "malformed"],
)
async def test_a_workspace_with_a_bad_user_assigned_identity_is_refused_and_not_created(
    server: InProcessServer, client: httpx2.AsyncClient, identity_id: str, status: int, code: str
) -> None:
    await create_group(client, server.subscription)
    bad = identity_id.format(sub=server.bootstrap.subscription_id)

    response = await client.put(
        ws_path(server.subscription, "rg1", "ws1"),
        params=API,
        json={"identity": {"type": "UserAssigned", "userAssignedIdentities": {bad: {}}}},
    )

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert (await client.get(ws_path(server.subscription, "rg1", "ws1"), params=API)).status_code == 404


async def test_reconcilers_act_as_the_workspace_identity(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription)
    workspace = await create_workspace(client, server.subscription, "rg1", "ws1")

    async with server.services.store.transaction() as session:
        row = await resources.get(session, parse_resource_id(workspace["id"]))
        assert row is not None
        caller = await acting_as(session, row)

    assert caller.object_id == workspace["identity"]["principalId"]
    assert caller.display_name == "ws1"
    denied = await server.services.authorizer.decide(
        caller.object_id,
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        parse_resource_id(rg_path(server.subscription, "rg1")),
    )
    assert not denied.allowed  # a fresh workspace identity holds no role


async def test_deleting_a_workspace_deletes_its_system_identity(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    workspace = await create_workspace(client, server.subscription, "rg1", "ws1")
    principal_id = workspace["identity"]["principalId"]

    response = await client.delete(ws_path(server.subscription, "rg1", "ws1"), params=API)

    await wait_operation(client, response.headers["Azure-AsyncOperation"])

    assert (await client.get(f"/v1.0/servicePrincipals/{principal_id}", params=API)).status_code == 404
