"""Workspaces over the ARM API: created by a background operation, readable, listable, deletable."""

from __future__ import annotations

import asyncio

import httpx2

from tests.integration.helpers import API, create_group, create_workspace, rg_path, wait_operation, ws_path
from tether.testing.server import PUBLIC_URL, InProcessServer


async def test_create_answers_201_with_an_async_operation_and_finishes_unpolled(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    response = await client.put(ws_path(server.subscription, "rg1", "ws1"), params=API, json={"tags": {"team": "a"}})

    assert response.status_code == 201
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Azure-AsyncOperation"].startswith(PUBLIC_URL + server.subscription)
    assert response.json()["properties"]["provisioningState"] == "Creating"
    # Nobody polls the operation: the reconciler must finish it on its own.
    for _ in range(100):
        body = (await client.get(ws_path(server.subscription, "rg1", "ws1"), params=API)).json()
        if body["properties"]["provisioningState"] == "Succeeded":
            break
        await asyncio.sleep(0.05)
    assert body["properties"]["provisioningState"] == "Succeeded"
    assert body["location"] == "westeurope"  # inherited from the resource group
    assert body["identity"]["type"] == "SystemAssigned"
    assert body["identity"]["principalId"]
    assert body["tags"] == {"team": "a"}


async def test_paths_are_case_insensitive_and_answers_canonical(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    await create_workspace(client, server.subscription, "rg1", "ws1")
    shouted = f"{server.subscription}/RESOURCEGROUPS/rg1/providers/microsoft.machinelearningservices/WORKSPACES/WS1"

    body = (await client.get(shouted, params=API)).json()

    assert body["type"] == "Microsoft.MachineLearningServices/workspaces"
    assert body["name"] == "ws1"


async def test_list_in_group_and_subscription(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription, "rg1")
    await create_group(client, server.subscription, "rg2")
    await create_workspace(client, server.subscription, "rg1", "ws1")
    await create_workspace(client, server.subscription, "rg2", "ws2")
    collection = "/providers/Microsoft.MachineLearningServices/workspaces"

    in_group = (await client.get(rg_path(server.subscription, "rg1") + collection, params=API)).json()
    in_subscription = (await client.get(server.subscription + collection, params=API)).json()

    assert [w["name"] for w in in_group["value"]] == ["ws1"]
    assert sorted(w["name"] for w in in_subscription["value"]) == ["ws1", "ws2"]
    assert in_group["nextLink"] is None


async def test_delete_runs_in_background_and_then_404(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription)
    await create_workspace(client, server.subscription, "rg1", "ws1")

    response = await client.delete(ws_path(server.subscription, "rg1", "ws1"), params=API)

    assert response.status_code == 202
    assert (await wait_operation(client, response.headers["Azure-AsyncOperation"]))["status"] == "Succeeded"
    missing = await client.get(ws_path(server.subscription, "rg1", "ws1"), params=API)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "WorkspaceNotFound"
    again = await client.delete(ws_path(server.subscription, "rg1", "ws1"), params=API)
    assert again.status_code == 204


async def test_workspace_in_a_missing_group_is_404_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    response = await client.put(ws_path(server.subscription, "nope", "ws1"), params=API, json={})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"
    listed = await client.get(
        server.subscription + "/providers/Microsoft.MachineLearningServices/workspaces", params=API
    )
    assert listed.json()["value"] == []


async def test_deleting_a_group_deletes_its_workspaces(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription)
    await create_workspace(client, server.subscription, "rg1", "ws1")

    response = await client.delete(rg_path(server.subscription, "rg1"), params=API)
    await wait_operation(client, response.headers["Azure-AsyncOperation"])

    assert (await client.get(ws_path(server.subscription, "rg1", "ws1"), params=API)).status_code == 404
    assert (await client.get(rg_path(server.subscription, "rg1"), params=API)).status_code == 404


async def test_operation_polls_ask_for_a_one_second_retry_while_in_progress(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    # azure-core waits Retry-After between polls and 30 s without it: every poll must carry it.
    await create_group(client, server.subscription)
    await server.services.reconcilers.stop()  # keep the operation in progress while we poll
    response = await client.put(ws_path(server.subscription, "rg1", "ws1"), params=API, json={})

    poll = await client.get(response.headers["Azure-AsyncOperation"])

    assert poll.json()["status"] == "InProgress"
    assert poll.headers["Retry-After"] == "1"
