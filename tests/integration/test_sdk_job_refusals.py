"""Every refusal of the azure-ai-ml job loop, in the SDK's request shapes: Azure's status and code, nothing written.

The compute is written straight into the store as an attach leaves it (Succeeded, with the cluster's
instance types): these tests are about the API's answers, not the cluster (tests/e2e/test_sdk_jobs.py
runs the whole loop on the real node).
"""

from __future__ import annotations

import copy
from typing import Any

import httpx2
import pytest

from tests.integration.helpers import create_group, create_workspace, ws_path
from tether.domain.ids import parse_resource_id
from tether.domain.models.computes import AttachedCluster, ComputeRecord, ComputeSpec, ComputeState
from tether.domain.states import ProvisioningState
from tether.store import resources
from tether.testing.server import InProcessServer

API = {"api-version": "2025-01-01-preview"}
IMAGE = "tether.local/base:py3.11-bookworm"


@pytest.fixture
async def workspace(server: InProcessServer, client: httpx2.AsyncClient) -> str:
    sub = server.subscription
    await create_group(client, sub, "jr-rg")
    body = await create_workspace(client, sub, "jr-rg", "jr-ws")
    compute_id = parse_resource_id(body["id"]).child("computes", "k8s")
    cluster = f"{sub}/resourceGroups/jr-rg/providers/Microsoft.ContainerService/managedClusters/c1"
    async with server.services.store.transaction() as session:
        await resources.insert(
            session,
            compute_id,
            location="westeurope",
            tags={},
            identity=None,
            properties=ComputeRecord(
                spec=ComputeSpec(resource_id=cluster),
                state=ComputeState(attached=AttachedCluster(instance_types={"defaultinstancetype": {}, "small": {}})),
            ),
            state=ProvisioningState.SUCCEEDED,
            principal_id=server.bootstrap.admin_object_id,
        )
    return ws_path(sub, "jr-rg", "jr-ws")


def job_body(workspace: str, **changes: Any) -> dict[str, Any]:
    """A command job as azure-ai-ml 1.35 sends it (docs/sdk-jobs.md)."""
    properties: dict[str, Any] = {
        "description": None,
        "tags": {},
        "properties": {"_azureml.ComputeTargetType": "kubernetes"},
        "displayName": "sharp_tree",
        "experimentName": "src",
        "computeId": f"{workspace}/computes/k8s",
        "isArchived": False,
        "jobType": "Command",
        "command": "python train.py --out ${{outputs.model}}",
        "environment": {"image": IMAGE},
        "environmentVariables": {},
        "inputs": {},
        "outputs": {"model": {"jobOutputType": "uri_folder", "mode": "ReadWriteMount"}},
        "resources": {"instanceCount": 1, "instanceType": "small", "properties": {}, "shmSize": "2g"},
        "queueSettings": {"jobTier": "Standard"},
        "distribution": None,
        "limits": {"jobLimitsType": "Command", "timeout": "PT10M"},
    }
    properties.update(changes)
    return {"properties": {k: v for k, v in properties.items() if v is not None}}


async def _refused(
    client: httpx2.AsyncClient, url: str, body: dict[str, Any], *, status: int, code: str
) -> dict[str, Any]:
    response = await client.put(url, params=API, json=body)
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert (await client.get(url, params=API)).status_code == 404, "a refused PUT writes nothing"
    return error


@pytest.mark.parametrize(
    ("changes", "status", "code", "words"),
    [
        pytest.param(
            {"resources": {"instanceCount": 1, "instanceType": "huge"}}, 400, "UserError", "huge", id="instance-type"
        ),
        pytest.param({"environment": None, "environmentId": None}, 400, "InvalidEnvironment", "", id="no-environment"),
        pytest.param(
            {"environment": None, "environmentId": "azureml:missing:1"}, 404, "UserError", "missing", id="env-missing"
        ),
        pytest.param(
            {"environment": None, "environmentId": "azureml://registries/azureml/environments/x/versions/1"},
            400,
            "UserError",
            "registry",
            id="env-in-registry",
        ),
        pytest.param({"codeId": "azureml:nocode:1"}, 404, "UserError", "nocode", id="code-missing"),
        pytest.param({"identity": {"identityType": "UserIdentity"}}, 400, "UserError", "UserIdentity", id="identity"),
        pytest.param({"limits": {"jobLimitsType": "Command", "timeout": "ten"}}, 400, "UserError", "ten", id="timeout"),
        pytest.param(
            {"command": "python t.py --data ${{inputs.data}}", "inputs": {"data": {"jobInputType": "uri_folder"}}},
            400,
            "UserError",
            "literal",
            id="data-input",
        ),
        pytest.param({"command": "echo ${{outputs.other}}"}, 400, "UserError", "other", id="unknown-output"),
        pytest.param({"unknownField": 1}, 400, "InvalidRequestContent", "unknownField", id="unknown-field"),
        pytest.param({"jobType": "Sweep"}, 400, "InvalidJobType", "Sweep", id="job-type"),
    ],
)
async def test_a_job_that_cannot_run_as_asked_is_refused(
    client: httpx2.AsyncClient, workspace: str, changes: dict[str, Any], status: int, code: str, words: str
) -> None:
    error = await _refused(client, f"{workspace}/jobs/j1", job_body(workspace, **changes), status=status, code=code)
    assert words in error["message"] + str(error.get("details"))


async def test_a_job_read_and_put_back_round_trips_and_only_metadata_changes(
    client: httpx2.AsyncClient, workspace: str
) -> None:
    url = f"{workspace}/jobs/j2"
    created = await client.put(url, params=API, json=job_body(workspace))
    assert created.status_code == 201, created.text
    read = (await client.get(url, params=API)).json()
    assert (
        read["properties"]["outputs"]["model"]["uri"]
        == "azureml://datastores/workspaceblobstore/paths/azureml/j2/model/"
    )
    assert read["properties"]["queueSettings"] == {"jobTier": "Standard"}, "kept as sent"
    assert read["properties"]["resources"]["shmSize"] == "2g"
    assert read["properties"]["services"]["Studio"]["endpoint"].endswith("/jobs/j2")

    archived = copy.deepcopy(read)
    archived["properties"]["isArchived"] = True
    response = await client.put(url, params=API, json=archived)
    assert response.status_code == 200, response.text
    assert (await client.get(url, params=API)).json()["properties"]["isArchived"] is True

    changed = copy.deepcopy(read)
    changed["properties"]["command"] = "echo other"
    response = await client.put(url, params=API, json=changed)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "JobAlreadyExists"
    assert (await client.get(url, params=API)).json()["properties"]["command"] == read["properties"]["command"]


@pytest.mark.parametrize(
    ("properties", "code", "target"),
    [
        pytest.param({"image": IMAGE, "condaFile": "dependencies: []"}, "UserError", "condaFile", id="conda"),
        pytest.param({"build": {"contextUri": "https://x/y"}}, "UserError", "build", id="build"),
        pytest.param({"osType": "Linux"}, "UserError", "image", id="no-image"),
    ],
)
async def test_an_environment_tether_cannot_run_is_refused(
    client: httpx2.AsyncClient, workspace: str, properties: dict[str, Any], code: str, target: str
) -> None:
    url = f"{workspace}/environments/env1/versions/1"
    error = await _refused(client, url, {"properties": properties}, status=400, code=code)
    assert target in error["target"]


async def test_environment_versions_are_written_listed_and_never_change(
    client: httpx2.AsyncClient, workspace: str
) -> None:
    url = f"{workspace}/environments/CliV2AnonymousEnvironment/versions/abc123"
    body = {"properties": {"image": IMAGE, "isAnonymous": True, "osType": "Linux"}}
    assert (await client.put(url, params=API, json=body)).status_code == 201
    assert (await client.put(url, params=API, json=body)).status_code == 200, "the same content again"
    other = {"properties": {"image": "other:1", "isAnonymous": True}}
    response = await client.put(url, params=API, json=other)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "UserError"
    listed = (await client.get(f"{workspace}/environments/CliV2AnonymousEnvironment/versions", params=API)).json()
    assert [v["properties"]["image"] for v in listed["value"]] == [IMAGE]
    container = (await client.get(f"{workspace}/environments/CliV2AnonymousEnvironment", params=API)).json()
    assert container["properties"]["latestVersion"] == "abc123"

    for name, environment_id in (("j3", url), ("j4", "azureml:CliV2AnonymousEnvironment@latest")):
        job = job_body(workspace, environment=None, environmentId=environment_id)
        created = await client.put(f"{workspace}/jobs/{name}", params=API, json=job)
        assert created.status_code == 201, created.text


async def test_a_code_uri_outside_tethers_storage_is_refused(client: httpx2.AsyncClient, workspace: str) -> None:
    url = f"{workspace}/codes/c1/versions/1"
    body = {"properties": {"codeUri": "https://elsewhere.example/acct/c/src"}}
    error = await _refused(client, url, body, status=400, code="UserError")
    assert error["target"] == "properties.codeUri"


async def test_start_pending_upload_in_a_missing_workspace_is_not_found(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    url = f"{ws_path(server.subscription, 'nope-rg', 'nope')}/codes/c1/versions/1/startPendingUpload"
    response = await client.post(url, params=API, json={"pendingUploadType": "TemporaryBlobReference"})
    assert response.status_code == 404, response.text


async def test_discovery_needs_no_token_and_a_log_url_needs_its_signature(
    server: InProcessServer, client: httpx2.AsyncClient, workspace: str
) -> None:
    anonymous = server.client(token="")
    async with anonymous:
        discovery = await anonymous.get("/discovery")
        assert discovery.status_code == 200
        assert discovery.json()["api"] == server.services.public_url
        job_id = f"{workspace}/jobs/j1"
        forged = await anonymous.get("/history/logs", params={"job": job_id, "sig": "not-a-token"})
        assert forged.status_code == 401, forged.text
        # A token for the API is not a log signature.
        api_token = server.token_for(server.admin())
        wrong = await anonymous.get("/history/logs", params={"job": job_id, "sig": api_token})
        assert wrong.status_code == 401, wrong.text
    workspace_answer = (await client.get(workspace, params=API)).json()
    assert workspace_answer["properties"]["discoveryUrl"] == server.services.public_url + "/discovery"


@pytest.mark.parametrize("body", [b"", b"not json", b"[1]", b'{"runId": 3}'])
async def test_run_data_with_a_bad_body_is_a_400(client: httpx2.AsyncClient, workspace: str, body: bytes) -> None:
    response = await client.post(f"/history/v1.0{workspace}/rundata", content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("InvalidRequestContent", "UserError")


async def test_run_details_of_a_job_that_does_not_exist_is_a_404(client: httpx2.AsyncClient, workspace: str) -> None:
    response = await client.get(f"/history/v1.0{workspace}/runs/nope/details")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "UserError"
