"""Concurrent creates of one resource: every PUT gets an ARM answer (201, 200 or 409), never a 500.

Fifty PUTs of one workspace race their read-then-insert; the losers of the insert must be answered as
ARM answers a PUT that meets an existing resource, and exactly one create must win. Runs on SQLite, and
on PostgreSQL when ``TETHER_TEST_POSTGRES_URL`` is set (the ``server`` fixture picks the dialect).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx2

from tests.integration.helpers import API, create_group, rg_path, ws_path
from tether.testing.server import InProcessServer

CONCURRENT_PUTS = 50


async def test_fifty_concurrent_puts_of_one_workspace_never_fail(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")
    path = ws_path(server.subscription, "rg1", "ws-race")

    async def put() -> httpx2.Response:
        return await client.put(path, params=API, json={"properties": {"friendlyName": "race"}})

    responses = await asyncio.gather(*(put() for _ in range(CONCURRENT_PUTS)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 201, 409}, {r.status_code: r.text for r in responses}
    assert statuses[201] == 1, statuses
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] in ("ConflictingOperation", "Conflict"), response.text
    workspaces = rg_path(server.subscription, "rg1") + "/providers/Microsoft.MachineLearningServices/workspaces"
    listing = await client.get(workspaces, params=API)
    assert [w["name"] for w in listing.json()["value"]] == ["ws-race"]


async def test_fifty_concurrent_puts_of_one_resource_group_answer_201_once_then_200(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    path = rg_path(server.subscription, "rg-race")

    async def put() -> httpx2.Response:
        return await client.put(path, params=API, json={"location": "westeurope"})

    responses = await asyncio.gather(*(put() for _ in range(CONCURRENT_PUTS)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 201, 409}, {r.status_code: r.text for r in responses}
    assert statuses[201] == 1, statuses
