"""Instance types in an attach body (``properties.properties.instanceTypes``): malformed ones, and a
``defaultInstanceType`` Tether cannot honour, are refused before anything is written. (Creating them in the
cluster and answering them: tests/e2e/test_sdk_computes.py, on the local cluster.)"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.integration.helpers import API, create_group, create_workspace, ws_path
from tether.testing.server import InProcessServer

SMALL = {"nodeSelector": None, "resources": {"requests": {"cpu": "250m", "memory": "1Gi"},
                                             "limits": {"cpu": "1", "memory": "1Gi"}}}  # fmt: skip


def attach_body(subscription: str, **inner: Any) -> dict[str, Any]:
    cluster = f"{subscription}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1"
    return {
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "computeType": "Kubernetes",
            "resourceId": cluster.lstrip("/"),
            "properties": {"namespace": "default", **inner},
        },
    }


@pytest.mark.parametrize(
    ("inner", "target"),
    [
        pytest.param({"instanceTypes": {"Small_1": SMALL}}, "properties.properties.instanceTypes.Small_1", id="name"),
        pytest.param(
            {"instanceTypes": {"small": {"resources": {}}}},
            "properties.properties.instanceTypes.small",
            id="no-requests",
        ),
        pytest.param({"instanceTypes": {"small": "2 cpus"}}, "properties.properties.instanceTypes.small", id="text"),
        pytest.param(
            {
                "instanceTypes": {
                    "small": {**SMALL, "resources": {**SMALL["resources"], "limits": {"cpu": "lots", "memory": "1Gi"}}}
                }
            },
            "properties.properties.instanceTypes.small",
            id="bad-quantity",
        ),
        pytest.param(
            {
                "instanceTypes": {
                    "small": {**SMALL, "resources": {**SMALL["resources"], "limits": {"cpu": "0", "memory": "1Gi"}}}
                }
            },
            "properties.properties.instanceTypes.small",
            id="zero",
        ),
        pytest.param(
            {"defaultInstanceType": "small", "instanceTypes": {"small": SMALL}},
            "properties.properties.defaultInstanceType",
            id="other-default",
        ),
    ],
)
async def test_instance_types_tether_cannot_honour_are_refused_and_nothing_is_written(
    server: InProcessServer, client: httpx2.AsyncClient, inner: dict[str, Any], target: str
) -> None:
    await create_group(client, server.subscription)
    await create_workspace(client, server.subscription, "rg1", "ws1")
    compute = ws_path(server.subscription, "rg1", "ws1") + "/computes/k8s"

    response = await client.put(compute, params=API, json=attach_body(server.subscription, **inner))

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "InvalidRequestContent"
    assert response.json()["error"]["target"] == target
    assert (await client.get(compute, params=API)).json()["error"]["code"] == "ComputeNotFound"


async def test_well_formed_instance_types_are_accepted(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription)
    await create_workspace(client, server.subscription, "rg1", "ws1")
    compute = ws_path(server.subscription, "rg1", "ws1") + "/computes/k8s"
    body = attach_body(server.subscription, defaultInstanceType="defaultinstancetype", instanceTypes={"small": SMALL})

    response = await client.put(compute, params=API, json=body)

    assert response.status_code == 201, response.text  # the attach itself then fails: no cluster c1 here


async def test_other_compute_types_are_refused(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription)
    await create_workspace(client, server.subscription, "rg1", "ws1")
    body = attach_body(server.subscription)
    body["properties"] = {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_DS3_V2"}}

    response = await client.put(ws_path(server.subscription, "rg1", "ws1") + "/computes/cpu", params=API, json=body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidComputeType"
