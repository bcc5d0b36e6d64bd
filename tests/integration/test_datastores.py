"""Workspace storage: a new workspace's default account and ``workspaceblobstore``, datastores, listSecrets."""

from __future__ import annotations

import httpx2

from tests.integration.helpers import API, create_group, create_workspace, rg_path, ws_path
from tether.domain.principals import Caller, PrincipalKind
from tether.domain.roles import READER
from tether.store import principals
from tether.testing.server import InProcessServer


async def test_a_workspace_gets_a_default_account_and_workspaceblobstore(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    sub = server.subscription
    await create_group(client, sub, "rg1")
    workspace = await create_workspace(client, sub, "rg1", "ws1")
    account_id = workspace["properties"]["storageAccount"]
    account = await client.get(account_id, params=API)
    assert account.status_code == 200, account.text
    assert account.json()["properties"]["primaryEndpoints"]["blob"].endswith(f"/{account.json()['name']}/")

    datastores = await client.get(f"{ws_path(sub, 'rg1', 'ws1')}/datastores", params={**API, "isDefault": "true"})
    [default] = datastores.json()["value"]
    assert default["name"] == "workspaceblobstore"
    assert default["properties"]["accountName"] == account.json()["name"]
    assert default["properties"]["isDefault"] is True
    assert default["properties"]["credentials"] == {"credentialsType": "AccountKey"}  # no secret in a read

    secrets = await client.post(f"{default['id']}/listSecrets", params=API, json={})
    assert secrets.status_code == 200, secrets.text
    keys = await client.post(f"{account_id}/listKeys", params=API)
    assert secrets.json() == {"secretsType": "AccountKey", "key": keys.json()["keys"][0]["value"]}


async def test_list_secrets_needs_its_action_and_reader_has_not_got_it(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    sub = server.subscription
    await create_group(client, sub, "rg1")
    await create_workspace(client, sub, "rg1", "ws1")
    async with server.services.store.transaction() as session:
        row = await principals.create(
            session, tenant_id=server.bootstrap.tenant_id, kind="ServicePrincipal", display_name="viewer"
        )
    viewer = Caller(row.tenant_id, row.object_id, row.app_id, PrincipalKind.SERVICE_PRINCIPAL)
    grant = {
        "properties": {
            "roleDefinitionId": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{READER.guid}",
            "principalId": viewer.object_id,
        }
    }
    assigned = await client.put(
        f"{rg_path(sub, 'rg1')}/providers/Microsoft.Authorization/roleAssignments/0f0f0f0f-0000-4000-8000-000000000001",
        params=API,
        json=grant,
    )
    assert assigned.status_code == 201, assigned.text
    datastore = f"{ws_path(sub, 'rg1', 'ws1')}/datastores/workspaceblobstore"
    async with server.client(token=server.token_for(viewer)) as as_viewer:
        assert (await as_viewer.get(datastore, params=API)).status_code == 200
        refused = await as_viewer.post(f"{datastore}/listSecrets", params=API, json={})
    assert refused.status_code == 403
    assert "workspaces/datastores/listSecrets/action" in refused.json()["error"]["message"]


async def test_a_workspace_can_take_an_existing_account_and_a_missing_one_is_refused(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    sub = server.subscription
    await create_group(client, sub, "rg1")
    account_id = f"{rg_path(sub, 'rg1')}/providers/Microsoft.Storage/storageAccounts/mine01"
    assert (await client.put(account_id, params=API, json={})).status_code == 201
    response = await client.put(
        ws_path(sub, "rg1", "ws2"), params=API, json={"properties": {"storageAccount": account_id}}
    )
    assert response.status_code == 201, response.text
    assert response.json()["properties"]["storageAccount"] == account_id
    missing = account_id.replace("mine01", "nothere")
    refused = await client.put(ws_path(sub, "rg1", "ws3"), params=API, json={"properties": {"storageAccount": missing}})
    assert refused.status_code == 404
    assert (await client.get(ws_path(sub, "rg1", "ws3"), params=API)).status_code == 404  # nothing written


async def test_storage_account_names_are_global_and_checked(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    sub = server.subscription
    await create_group(client, sub, "rg1")
    await create_group(client, sub, "rg2")
    first = f"{rg_path(sub, 'rg1')}/providers/Microsoft.Storage/storageAccounts/shared01"
    assert (await client.put(first, params=API, json={})).status_code == 201
    taken = await client.put(first.replace("rg1", "rg2"), params=API, json={})
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "StorageAccountAlreadyTaken")
    bad = await client.put(first.replace("shared01", "Has_Upper"), params=API, json={})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "InvalidResourceName")
