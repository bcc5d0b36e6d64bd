"""Small helpers for integration tests: ids and waiting for operations."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

API = {"api-version": "2024-10-01"}


def rg_path(subscription: str, name: str) -> str:
    return f"{subscription}/resourceGroups/{name}"


def ws_path(subscription: str, group: str, name: str) -> str:
    return f"{rg_path(subscription, group)}/providers/Microsoft.MachineLearningServices/workspaces/{name}"


async def wait_operation(client: httpx2.AsyncClient, url: str, *, timeout: float = 10) -> dict[str, Any]:
    """Poll an Azure-AsyncOperation URL until it is terminal."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "InProgress":
            return body
        assert asyncio.get_running_loop().time() < deadline, f"operation still running: {body}"
        await asyncio.sleep(0.05)


async def create_group(client: httpx2.AsyncClient, subscription: str, name: str = "rg1") -> None:
    response = await client.put(rg_path(subscription, name), params=API, json={"location": "westeurope"})
    assert response.status_code in (200, 201), response.text


async def create_workspace(client: httpx2.AsyncClient, subscription: str, group: str, name: str) -> dict[str, Any]:
    response = await client.put(ws_path(subscription, group, name), params=API, json={})
    assert response.status_code == 201, response.text
    status = await wait_operation(client, response.headers["Azure-AsyncOperation"])
    assert status["status"] == "Succeeded", status
    answer = await client.get(ws_path(subscription, group, name), params=API)
    body: dict[str, Any] = answer.json()
    return body
