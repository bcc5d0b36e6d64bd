"""A read under a resource group that does not exist is 404 ``ResourceGroupNotFound``, as in ARM: an
``MLClient`` built without a resource group sends ``resourceGroups/None/...`` and must not get an empty list."""

from __future__ import annotations

import httpx2
import pytest

from tests.integration.helpers import API, create_group, rg_path
from tether.testing.server import InProcessServer

_UNDER_GROUP = [
    "/providers/Microsoft.MachineLearningServices/workspaces",
    "/providers/Microsoft.MachineLearningServices/workspaces/ws",
    "/providers/Microsoft.MachineLearningServices/workspaces/ws/computes",
    "/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/k8s",
    "/providers/Microsoft.MachineLearningServices/workspaces/ws/jobs",
    "/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
    "/providers/Microsoft.ContainerService/managedClusters/c1",
    "/providers/Microsoft.Resources/deployments",
    "/resources",
]


@pytest.mark.parametrize("group", ["None", "never-made"])
@pytest.mark.parametrize("tail", _UNDER_GROUP)
async def test_reads_under_a_missing_group_are_resource_group_not_found(
    server: InProcessServer, client: httpx2.AsyncClient, group: str, tail: str
) -> None:
    response = await client.get(rg_path(server.subscription, group) + tail, params=API)

    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"
    assert group in response.json()["error"]["message"]


async def test_an_existing_empty_group_still_lists_nothing(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription, "rg1")

    response = await client.get(rg_path(server.subscription, "rg1") + _UNDER_GROUP[0], params=API)

    assert response.status_code == 200
    assert response.json()["value"] == []
