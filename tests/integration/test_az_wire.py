"""The wire shapes the real az relies on, in process: metadata, HEAD, PATCH, deletes, lists, Graph.

The az e2e tier (tests/e2e/az) drives the same surfaces with the real CLI; these pin each shape.
"""

from __future__ import annotations

import httpx2

from tests.integration.helpers import API, create_group, create_workspace, rg_path
from tether.testing.server import InProcessServer

IDENTITIES = "providers/Microsoft.ManagedIdentity/userAssignedIdentities"
ROLE_ASSIGNMENTS = "providers/Microsoft.Authorization/roleAssignments"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


async def test_metadata_is_one_object_from_2022_09_01_and_a_list_before(client: httpx2.AsyncClient) -> None:
    new = (await client.get("/metadata/endpoints", params={"api-version": "2022-09-01"})).json()
    assert isinstance(new, dict)
    assert new["activeDirectoryDataLake"] == new["resourceManager"]
    assert new["ossrdbmsResourceId"] == new["resourceManager"]
    old = (await client.get("/metadata/endpoints", params={"api-version": "2019-05-01"})).json()
    assert isinstance(old, list)
    assert old[0]["name"] == new["name"] == "Tether"


async def test_head_answers_existence_and_a_missing_group_delete_is_404(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    exists = await client.head(rg_path(server.subscription, "rg1"), params=API)
    missing = await client.head(rg_path(server.subscription, "nope"), params=API)
    assert (exists.status_code, exists.content) == (204, b"")
    assert (missing.status_code, missing.content) == (404, b"")

    deleted = await client.delete(rg_path(server.subscription, "nope"), params=API)
    assert deleted.status_code == 404
    assert deleted.json()["error"]["code"] == "ResourceGroupNotFound"
    assert "az group create -n nope" in deleted.json()["error"]["message"]


async def test_group_list_filters_by_tag(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    for name, team in (("g-a", "a"), ("g-b", "b")):
        response = await client.put(
            rg_path(server.subscription, name), params=API, json={"location": "westeurope", "tags": {"team": team}}
        )
        assert response.status_code == 201
    url = f"{server.subscription}/resourcegroups"
    tagged = await client.get(url, params={**API, "$filter": "tagname eq 'team' and tagvalue eq 'b'"})
    assert [g["name"] for g in tagged.json()["value"]] == ["g-b"]
    bad = await client.get(url, params={**API, "$filter": "tagname ne 'team'"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidFilter"


async def test_patch_changes_tags_and_refuses_other_changes(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription)
    url = f"{rg_path(server.subscription, 'rg1')}/{IDENTITIES}/id1"
    created = (await client.put(url, params=API, json={"location": "westeurope"})).json()

    # What az identity update sends: the whole object back, with new tags.
    patched = await client.patch(url, params=API, json={**created, "tags": {"env": "dev"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["tags"] == {"env": "dev"}
    assert patched.json()["properties"]["principalId"] == created["properties"]["principalId"]

    moved = await client.patch(url, params=API, json={"location": "eastus", "tags": {"env": "prod"}})
    assert moved.status_code == 400
    assert moved.json()["error"]["target"] == "location"
    assert (await client.get(url, params=API)).json()["tags"] == {"env": "dev"}  # nothing written

    assignment = f"{server.subscription}/{ROLE_ASSIGNMENTS}/6f1b0bb4-2a4b-4b6f-8f60-8c6a9f1f0c11"
    refused = await client.patch(assignment, params=API, json={"properties": {}})
    assert refused.status_code == 405


async def test_role_assignment_delete_answers_the_deleted_assignment(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    url = f"{server.subscription}/{ROLE_ASSIGNMENTS}/0b7c8a52-86a8-4f3e-a3a4-0d8c0a5e9a01"
    body = {
        "properties": {
            "roleDefinitionId": f"{server.subscription}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
            "principalId": server.bootstrap.admin_object_id,
        }
    }
    assert (await client.put(url, params=API, json=body)).status_code == 201
    deleted = await client.delete(url, params=API)
    assert deleted.status_code == 200
    assert deleted.json()["id"].endswith("0b7c8a52-86a8-4f3e-a3a4-0d8c0a5e9a01")
    assert deleted.json()["properties"]["roleDefinitionName"] == "Reader"
    assert (await client.delete(url, params=API)).status_code == 204


async def test_resources_providers_and_locations(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    await create_group(client, server.subscription)
    await create_workspace(client, server.subscription, "rg1", "ws1")
    await client.put(f"{rg_path(server.subscription, 'rg1')}/{IDENTITIES}/id1", params=API, json={"tags": {"k": "v"}})

    listed = (await client.get(f"{server.subscription}/resources", params=API)).json()
    assert sorted(r["type"] for r in listed["value"]) == [
        "Microsoft.MachineLearningServices/workspaces",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "Microsoft.Storage/storageAccounts",  # the workspace's default storage, made with it
    ]
    assert all("properties" not in r and r["provisioningState"] for r in listed["value"])
    by_tag = await client.get(
        f"{server.subscription}/resources", params={**API, "$filter": "tagName eq 'k' and tagValue eq 'v'"}
    )
    assert [r["name"] for r in by_tag.json()["value"]] == ["id1"]
    by_type = await client.get(
        f"{rg_path(server.subscription, 'rg1')}/resources",
        params={**API, "$filter": "resourceType eq 'microsoft.machinelearningservices/workspaces'"},
    )
    assert [r["name"] for r in by_type.json()["value"]] == ["ws1"]
    # Azure's SDKs leave an empty parent path ('//') after the namespace of a generic resource URL.
    sdk_path = f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.MachineLearningServices//workspaces/ws1"
    assert (await client.get(sdk_path, params=API)).json()["name"] == "ws1"
    no_group = await client.get(f"{rg_path(server.subscription, 'nope')}/resources", params=API)
    assert no_group.status_code == 404
    assert no_group.json()["error"]["code"] == "ResourceGroupNotFound"

    ml = (await client.get(f"{server.subscription}/providers/microsoft.machinelearningservices", params=API)).json()
    assert ml["namespace"] == "Microsoft.MachineLearningServices"
    assert {"resourceType": "workspaces/computes"}.items() <= ml["resourceTypes"][1].items()
    assert all(t["apiVersions"] for t in ml["resourceTypes"])
    unknown = await client.get(f"{server.subscription}/providers/Microsoft.Nothing", params=API)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "InvalidResourceNamespace")
    providers = (await client.get(f"{server.subscription}/providers", params=API)).json()["value"]
    assert "Microsoft.ContainerService" in [p["namespace"] for p in providers]

    locations = (await client.get(f"{server.subscription}/locations", params=API)).json()["value"]
    west = next(loc for loc in locations if loc["name"] == "westeurope")
    assert west["displayName"] == "West Europe"
    assert west["id"] == f"{server.subscription}/locations/westeurope"


async def test_graph_applications_passwords_filters_and_get_by_ids(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    created = await client.post("/v1.0/applications", json={"displayName": "rbac-app"})
    assert created.status_code == 201
    app = created.json()
    assert app["@odata.type"] == "#microsoft.graph.application"
    assert app["passwordCredentials"] == []

    listed = await client.get("/v1.0/applications", params={"$filter": "startswith(displayName,'rbac')"})
    assert [a["appId"] for a in listed.json()["value"]] == [app["appId"]]
    by_app_id = await client.get("/v1.0/applications", params={"$filter": f"appId eq '{app['appId']}'"})
    assert by_app_id.json()["value"][0]["id"] == app["id"]

    password = (await client.post(f"/v1.0/applications/{app['id']}/addPassword", json={})).json()
    assert password["secretText"]
    assert password["keyId"]
    shown = (await client.get(f"/v1.0/applications/{app['id']}")).json()
    assert [p["keyId"] for p in shown["passwordCredentials"]] == [password["keyId"]]
    assert shown["passwordCredentials"][0]["secretText"] is None

    sp = await client.post("/v1.0/servicePrincipals", json={"appId": app["appId"], "accountEnabled": True})
    assert sp.status_code == 201
    spn_filter = f"servicePrincipalNames/any(c:c eq '{app['appId']}')"
    found = (await client.get("/v1.0/servicePrincipals", params={"$filter": spn_filter})).json()["value"]
    assert [s["id"] for s in found] == [sp.json()["id"]]

    objects = await client.post(
        "/v1.0/directoryObjects/getByIds", json={"ids": [sp.json()["id"], "00000000-0000-0000-0000-000000000000"]}
    )
    assert [(o["@odata.type"], o["displayName"]) for o in objects.json()["value"]] == [
        ("#microsoft.graph.servicePrincipal", "rbac-app")
    ]

    removed = await client.post(f"/v1.0/applications/{app['id']}/removePassword", json={"keyId": password["keyId"]})
    assert removed.status_code == 204
    again = await client.post(f"/v1.0/applications/{app['id']}/removePassword", json={"keyId": password["keyId"]})
    assert again.status_code == 404

    assert (await client.delete(f"/v1.0/applications/{app['id']}")).status_code == 204
    assert (await client.get(f"/v1.0/servicePrincipals/{sp.json()['id']}")).status_code == 404
