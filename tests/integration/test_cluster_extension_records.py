"""A connected cluster and its extension through the API, with no cluster behind them: what each stores and
answers, and a forced delete (the extension's private flag) that removes the record of an install the
cluster never got. The agent never connects, so every install attempt finds no tunnel."""

from __future__ import annotations

import httpx2

from tests.integration.helpers import API, create_group, rg_path, wait_operation
from tether.domain.models.clusters import ConnectedClusterRecord
from tether.store import resources
from tether.testing.server import InProcessServer

SETTINGS = {"enableTraining": "true"}


async def _stored(server: InProcessServer, resource_id: str) -> dict[str, object]:
    async with server.services.store.transaction() as session:
        row = await resources.get_by_key(session, resource_id.lower())
        assert row is not None
        return dict(row.properties)


async def test_a_connected_cluster_and_a_failed_extension_answer_and_force_delete(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    sub = server.subscription
    await create_group(client, sub, "ext-rg")
    cluster = f"{rg_path(sub, 'ext-rg')}/providers/Microsoft.Kubernetes/connectedClusters/c1"
    created = await client.put(cluster, params=API, json={"location": "westeurope", "properties": {}})
    assert created.status_code == 201, created.text
    answered = created.json()["properties"]
    assert answered["connectivityStatus"] == "Connecting"
    assert answered["provisioningState"] == "Succeeded"
    assert "gpuNodeCount" not in answered  # written only once a probe through the tunnel answered
    stored = await _stored(server, cluster)
    assert ConnectedClusterRecord.from_stored(stored).to_stored() == stored
    assert {**stored, "provisioningState": "Succeeded"} == answered

    extension = f"{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/ml"
    body = {
        "properties": {
            "extensionType": "Microsoft.AzureML.Kubernetes",
            "configurationSettings": SETTINGS,
            "configurationProtectedSettings": {"sslPassword": "s3cret"},
        }
    }
    put = await client.put(extension, params=API, json=body)
    assert put.status_code == 201, put.text
    assert put.json()["properties"]["configurationProtectedSettings"] == {"sslPassword": ""}
    # Kept by name only: the value is neither answered nor stored (nothing reads it after the PUT's checks).
    assert (await _stored(server, extension))["configurationProtectedSettings"] == {"sslPassword": ""}
    install = await wait_operation(client, put.headers["Azure-AsyncOperation"], timeout=60)
    assert install["status"] == "Failed", install  # no agent, no tunnel: the install cannot reach the cluster

    kept = await client.delete(extension, params=API)
    assert kept.status_code == 202, kept.text
    refused = await wait_operation(client, kept.headers["Azure-AsyncOperation"], timeout=60)
    assert refused["status"] == "Failed", refused  # not forced: it must reach the cluster to uninstall
    assert "--force" in refused["error"]["message"]
    shown = await client.get(extension, params=API)
    assert shown.status_code == 200, shown.text
    assert not [key for key in shown.json()["properties"] if key.startswith("_")]
    assert "s3cret" not in shown.text

    delete = await client.delete(extension, params={**API, "forceDelete": "true"})
    assert delete.status_code == 202, delete.text
    removed = await wait_operation(client, delete.headers["Azure-AsyncOperation"], timeout=30)
    assert removed["status"] == "Succeeded", removed  # forced: the unreachable cluster is not touched
    assert (await client.get(extension, params=API)).status_code == 404
