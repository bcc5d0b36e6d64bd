"""``locations/{l}/vmSizes`` and ``/usages`` (``ml.compute.list_sizes`` / ``list_usage``): empty lists in
Azure's shape, since Tether provisions no virtual machines; read-only."""

from __future__ import annotations

import httpx2
import pytest

from tests.integration.helpers import API
from tether.testing.server import InProcessServer


@pytest.mark.parametrize("kind", ["vmSizes", "usages", "VMSIZES"])
async def test_lists_are_empty_in_azure_shape(server: InProcessServer, client: httpx2.AsyncClient, kind: str) -> None:
    path = f"{server.subscription}/providers/Microsoft.MachineLearningServices/locations/westeurope/{kind}"

    response = await client.get(path, params=API)

    assert response.status_code == 200, response.text
    assert response.json() == {"value": [], "nextLink": None}


async def test_they_are_read_only(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    path = f"{server.subscription}/providers/Microsoft.MachineLearningServices/locations/westeurope/vmSizes/x"

    response = await client.put(path, params=API, json={})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidAction"


async def test_an_unknown_subscription_is_not_found(client: httpx2.AsyncClient) -> None:
    subscription = "/subscriptions/00000000-0000-0000-0000-000000000001"
    path = f"{subscription}/providers/Microsoft.MachineLearningServices/locations/westeurope/vmSizes"

    response = await client.get(path, params=API)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SubscriptionNotFound"
