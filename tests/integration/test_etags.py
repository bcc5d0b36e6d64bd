"""ETags and conditional writes on ARM resources: ``etag`` in bodies, the ``ETag`` header, and
``If-Match`` / ``If-None-Match`` on PUT and DELETE answering 412 ``PreconditionFailed`` when they fail."""

from __future__ import annotations

import httpx2

from tests.integration.helpers import API, create_group, create_workspace, rg_path, ws_path
from tether.testing.server import InProcessServer

BODY = {"location": "westeurope"}


def assert_precondition_failed(response: httpx2.Response) -> None:
    assert response.status_code == 412, response.text
    assert response.json()["error"]["code"] == "PreconditionFailed"


async def test_a_resource_answers_its_etag_in_the_body_and_the_header(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")
    workspace = await create_workspace(client, server.subscription, "rg1", "ws1")

    group = await client.get(rg_path(server.subscription, "rg1"), params=API)
    again = await client.get(rg_path(server.subscription, "rg1"), params=API)

    assert group.json()["etag"].startswith('"')
    assert group.headers["ETag"] == group.json()["etag"] == again.json()["etag"]
    assert workspace["etag"].startswith('"')
    listed = await client.get(f"{server.subscription}/resourceGroups", params=API)
    assert [g["etag"] for g in listed.json()["value"]] == [group.json()["etag"]]


async def test_if_match_with_the_current_etag_updates_and_a_stale_one_is_412(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    path = rg_path(server.subscription, "rg1")
    created = await client.put(path, params=API, json=BODY)
    first = created.headers["ETag"]

    updated = await client.put(path, params=API, json={**BODY, "tags": {"a": "1"}}, headers={"If-Match": first})
    assert updated.status_code == 200, updated.text
    assert updated.headers["ETag"] != first

    stale = await client.put(path, params=API, json={**BODY, "tags": {"b": "2"}}, headers={"If-Match": first})
    assert_precondition_failed(stale)
    assert (await client.get(path, params=API)).json()["tags"] == {"a": "1"}

    anything = await client.put(path, params=API, json={**BODY, "tags": {"c": "3"}}, headers={"If-Match": "*"})
    assert anything.status_code == 200, anything.text


async def test_if_match_on_a_missing_resource_is_412_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    path = rg_path(server.subscription, "rg-missing")
    response = await client.put(path, params=API, json=BODY, headers={"If-Match": "*"})
    assert_precondition_failed(response)
    assert (await client.get(path, params=API)).status_code == 404


async def test_if_none_match_star_creates_once_and_never_overwrites(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    path = rg_path(server.subscription, "rg1")
    created = await client.put(path, params=API, json=BODY, headers={"If-None-Match": "*"})
    assert created.status_code == 201, created.text

    again = await client.put(path, params=API, json={**BODY, "tags": {"x": "y"}}, headers={"If-None-Match": "*"})
    assert_precondition_failed(again)
    assert (await client.get(path, params=API)).json()["tags"] == {}


async def test_delete_with_a_stale_etag_is_412_and_deletes_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")
    path = ws_path(server.subscription, "rg1", "ws1")
    workspace = await create_workspace(client, server.subscription, "rg1", "ws1")

    refused = await client.delete(path, params=API, headers={"If-Match": '"not-the-etag"'})
    assert_precondition_failed(refused)
    assert (await client.get(path, params=API)).status_code == 200

    accepted = await client.delete(path, params=API, headers={"If-Match": workspace["etag"]})
    assert accepted.status_code == 202, accepted.text
