"""A job's workload identity, played from the pod the operator created (issue 7; S8, S15/S16 workload half, B8).

One real ``tether server`` process (azure-identity needs its HTTPS URL), one managed Tether cluster on
the local cluster with the ML extension (its operator a local process, stopped at the end of the
module), and two computes in one namespace: one with a system-assigned identity, one with a
user-assigned identity. Each runs a job; kwok pods execute nothing, so the workload is played the
way the kubelet and the container would do it (``tether.testing.workload``): from the pod, take its
service account, projected-token audience and ``AZURE_*`` environment; obtain the token with
TokenRequest; write it to a file that ``AZURE_FEDERATED_TOKEN_FILE`` names; run the unmodified
``azure.identity.WorkloadIdentityCredential`` with that environment in a child process.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
import pytest_asyncio
from azure.storage.blob import BlobServiceClient
from lightkube import AsyncClient, Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod, ServiceAccount

from tests.cluster.conftest import Cli, log_in, stop_local_agents, workspace_on_managed_cluster
from tether.client import TetherClient
from tether.client.principals import get_by_object_id
from tether.localcluster import SIMULATE_DURATION_ANNOTATION, LocalCluster
from tether.server_process import ServerProcess
from tether.testing.blob_workload import read_and_write_in_workload
from tether.testing.workload import (
    AUDIENCE,
    PodIdentity,
    WorkloadIdentityError,
    get_token_in_workload,
    pod_identity,
    projected_token,
)

pytestmark = pytest.mark.cluster

RG = "identity-rg"
WS = "identity-ws"
CLUSTER = "identity-aks"
COMPUTES = ("system-id", "user-id")
TOKEN_MOUNT = "/var/run/secrets/azure/tokens"


@dataclass
class Scene:
    server: ServerProcess
    cli: Cli
    client: TetherClient
    namespace: str
    computes: dict[str, dict[str, Any]]  # compute name -> its ARM resource
    pods: dict[str, str]  # compute name -> the pod of its job

    @property
    def workspace_id(self) -> str:
        sub = self.client.profile.subscription_id
        return f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"

    def principal_id(self, compute: str) -> str:
        """The object id the compute's workloads must act as (S8: the first user-assigned identity)."""
        identity = self.computes[compute]["identity"]
        if identity["type"] == "SystemAssigned":
            return str(identity["principalId"])
        [assigned] = identity["userAssignedIdentities"].values()
        return str(assigned["principalId"])

    def scope(self) -> str:
        return f"{self.server.url}/.default"


def _run_job(client: TetherClient, workspace_id: str, *, name: str, compute: str) -> None:
    body = {
        "properties": {
            "jobType": "Command",
            "command": "python read_blob.py",
            "environment": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"},
            "computeId": f"azureml:{compute}",
            "tags": {SIMULATE_DURATION_ANNOTATION: "1s"},
        }
    }
    client.put(f"{workspace_id}/jobs/{name}", body)


def _wait_completed(client: TetherClient, job_id: str, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (status := client.get(job_id)["properties"]["status"]) not in ("Completed", "Failed", "Canceled"):
        assert time.monotonic() < deadline, f"{job_id} still {status} after {timeout} s"
        time.sleep(0.1)
    assert status == "Completed", client.get(job_id)["properties"]


@pytest.fixture(scope="module")
def scene(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("job-identity")
    namespace = f"team-id-{secrets.token_hex(3)}"
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    server = ServerProcess.start(root / "server")
    config_dir = root / "config"
    client: TetherClient | None = None
    try:
        cli = log_in(server, config_dir)
        kubeconfig = local_cluster.kubeconfig_path
        workspace_on_managed_cluster(cli, kubeconfig=kubeconfig, resource_group=RG, workspace=WS, cluster=CLUSTER)
        identity = cli.json(f"identity create -g {RG} -n job-writer")
        client = cli.client()
        cluster_id = (
            f"/subscriptions/{client.profile.subscription_id}/resourceGroups/{RG}/providers/"
            f"Microsoft.ContainerService/managedClusters/{CLUSTER}"
        )
        attach = (
            f"ml compute attach -g {RG} -w {WS} --type Kubernetes --resource-id {cluster_id} --namespace {namespace}"
        )
        cli.line(f"{attach} -n system-id --identity-type SystemAssigned -o none")
        cli.line(f"{attach} -n user-id --user-assigned-identities {identity['id']} -o none")
        scene = Scene(server, cli, client, namespace, {}, {})
        for compute in COMPUTES:
            scene.computes[compute] = client.get(f"{scene.workspace_id}/computes/{compute}")
            _run_job(client, scene.workspace_id, name=f"job-on-{compute}", compute=compute)
        for compute in COMPUTES:
            _wait_completed(client, f"{scene.workspace_id}/jobs/job-on-{compute}")
            [pod] = [
                p.metadata.name
                for p in kube.list(Pod, namespace=namespace, labels={"tether.dev/compute": compute})
                if p.metadata is not None and p.metadata.name
            ]
            scene.pods[compute] = pod
        yield scene
    finally:
        if client is not None:
            client.close()
        stop_local_agents(config_dir)
        server.stop()
        try:
            kube.delete(Namespace, namespace)
        finally:
            kube.close()


@pytest_asyncio.fixture(loop_scope="session")
async def kube(local_cluster: LocalCluster) -> AsyncIterator[AsyncClient]:
    async with local_cluster.client() as client:
        yield client


async def _token_in_workload(scene: Scene, identity: PodIdentity, token: str) -> str:
    return await asyncio.to_thread(
        get_token_in_workload, identity, token, scope=scene.scope(), ca_file=scene.server.ca_file
    )


# --- the job's own pod gets its compute's identity ---------------------------------------------------------


@pytest.mark.parametrize("compute", COMPUTES)
async def test_the_jobs_pod_gets_a_token_for_its_compute_identity(
    scene: Scene, kube: AsyncClient, compute: str
) -> None:
    identity = await pod_identity(kube, namespace=scene.namespace, pod_name=scene.pods[compute])

    # What the operator put in the pod: its compute's service account, the identity's client id, a
    # projected token of the exchange audience in the file azure-identity reads; no Secret.
    principal = get_by_object_id(scene.client, scene.principal_id(compute))
    assert principal is not None
    assert identity.service_account == f"tether-compute-{compute}"
    assert identity.audience == AUDIENCE
    assert identity.environment["AZURE_CLIENT_ID"] == principal["appId"]
    assert identity.environment["AZURE_TENANT_ID"] == scene.client.profile.tenant_id
    assert identity.environment["AZURE_AUTHORITY_HOST"].rstrip("/") == scene.server.url
    assert identity.environment["AZURE_FEDERATED_TOKEN_FILE"] == f"{TOKEN_MOUNT}/azure-identity-token"
    pod = await kube.get(Pod, scene.pods[compute], namespace=scene.namespace)
    assert pod.spec is not None
    [mount] = pod.spec.containers[0].volumeMounts or []
    assert mount.mountPath == TOKEN_MOUNT
    assert all(v.secret is None for v in pod.spec.volumes or [])

    kubelet_token = await projected_token(kube, identity)
    access_token = await _token_in_workload(scene, identity, kubelet_token)

    claims = jwt.decode(access_token, options={"verify_signature": False})
    assert claims["oid"] == scene.principal_id(compute)
    assert claims["tid"] == scene.client.profile.tenant_id
    assert claims["appid"] == principal["appId"]


async def test_the_workload_token_is_a_working_credential_of_the_compute_identity(
    scene: Scene, kube: AsyncClient
) -> None:
    """S16: what a role grants the compute identity, its workloads can do with their token; no more."""
    identity = await pod_identity(kube, namespace=scene.namespace, pod_name=scene.pods["system-id"])
    access_token = await _token_in_workload(scene, identity, await projected_token(kube, identity))
    verify = ssl.create_default_context(cafile=scene.server.ca_file)
    headers = {"Authorization": f"Bearer {access_token}"}
    url = f"{scene.server.url}{scene.workspace_id}"
    params = {"api-version": "2024-10-01"}

    async with httpx2.AsyncClient(verify=verify, headers=headers) as http:
        before = await http.get(url, params=params)
        scene.cli.line(
            f"role assignment create --assignee {scene.principal_id('system-id')} --role Reader "
            f"--scope {scene.workspace_id} -o none"
        )
        after = await http.get(url, params=params)

    assert before.status_code == 403, before.text
    assert scene.principal_id("system-id") in before.text
    assert after.status_code == 200, after.text
    assert after.json()["name"] == WS


_DEFAULT_CREDENTIAL = """
import sys
from azure.identity import DefaultAzureCredential
print(DefaultAzureCredential().get_token(sys.argv[1]).token)
"""


async def test_default_azure_credential_in_the_pod_gets_the_compute_identity_token(
    scene: Scene, kube: AsyncClient, tmp_path: Path
) -> None:
    """B8: the unmodified DefaultAzureCredential, as training code calls it, with the pod's environment only."""
    identity = await pod_identity(kube, namespace=scene.namespace, pod_name=scene.pods["user-id"])
    token_file = tmp_path / "azure-identity-token"  # stands in for the projected volume at TOKEN_MOUNT
    token_file.write_text(await projected_token(kube, identity))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AZURE_")},
        **identity.environment,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "REQUESTS_CA_BUNDLE": scene.server.ca_file,
        "SSL_CERT_FILE": scene.server.ca_file,
    }

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", _DEFAULT_CREDENTIAL, scene.scope()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["oid"] == scene.principal_id("user-id")


# --- other service accounts are refused ------------------------------------------------------------------------


async def _service_account(kube: AsyncClient, namespace: str, name: str) -> None:
    try:
        await kube.create(ServiceAccount(metadata=ObjectMeta(name=name, namespace=namespace)))
    except ApiError as e:  # already there (the namespace's own 'default')
        if e.status.code != 409:
            raise


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("other-namespace", id="same-account-name-in-another-namespace"),
        pytest.param("same-namespace", id="another-account-in-the-compute-namespace"),
    ],
)
async def test_a_token_of_another_service_account_is_refused(
    scene: Scene, kube: AsyncClient, namespace: str, where: str
) -> None:
    compute = "system-id"
    real = await pod_identity(kube, namespace=scene.namespace, pod_name=scene.pods[compute])
    if where == "other-namespace":  # a look-alike: same account name, a namespace the compute does not own
        impostor = PodIdentity(namespace, real.service_account, real.environment, real.audience)
    else:
        impostor = PodIdentity(scene.namespace, "default", real.environment, real.audience)
    await _service_account(kube, impostor.namespace, impostor.service_account)
    token = await projected_token(kube, impostor)
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == (
        f"system:serviceaccount:{impostor.namespace}:{impostor.service_account}"
    )

    with pytest.raises(WorkloadIdentityError) as refused:
        await _token_in_workload(scene, impostor, token)

    assert "AADSTS70021" in str(refused.value)
    # The genuine account still gets its token: the refusal is about the subject, not a broken setup.
    genuine = await _token_in_workload(scene, real, await projected_token(kube, real))
    assert jwt.decode(genuine, options={"verify_signature": False})["oid"] == scene.principal_id(compute)


# --- the job's identity reads and writes blob storage under its data roles (issue 15, S16) ---------------


async def test_the_workload_reads_with_reader_is_refused_a_write_then_writes_with_contributor(
    scene: Scene, kube: AsyncClient
) -> None:
    """Played workload (kwok runs no container): WorkloadIdentityCredential + azure-storage-blob, no keys."""
    account = f"jobdata{secrets.token_hex(4)}"
    created = scene.cli.json(f"storage account create -n {account} -g {RG} -o json")
    account_url = created["properties"]["primaryEndpoints"]["blob"]
    scene.cli.line(f"storage container create -n inputs --account-name {account} -g {RG} -o none")
    key = scene.cli.json(f"storage account keys list -n {account} -g {RG} -o json")[0]["value"]
    keyed = BlobServiceClient(
        account_url, credential={"account_name": account, "account_key": key}, connection_verify=scene.server.ca_file
    )
    await asyncio.to_thread(keyed.get_container_client("inputs").upload_blob, "input.txt", b"hello from storage")
    principal = scene.principal_id("system-id")
    scene.cli.line(
        f'role assignment create --assignee-object-id {principal} --role "Storage Blob Data Reader" '
        f"--scope {created['id']} -o none"
    )
    identity = await pod_identity(kube, namespace=scene.namespace, pod_name=scene.pods["system-id"])

    async def play() -> dict[str, Any]:
        token = await projected_token(kube, identity)
        return await asyncio.to_thread(
            read_and_write_in_workload,
            identity,
            token,
            account_url=account_url,
            container="inputs",
            source="input.txt",
            target="output.txt",
            ca_file=scene.server.ca_file,
        )

    as_reader = await play()
    assert as_reader["read"] == "hello from storage"
    refused = as_reader["write_error"]
    assert (refused["status"], refused["code"]) == (403, "AuthorizationPermissionMismatch")
    assert "Storage Blob Data Contributor" in refused["message"]
    assert f"storageAccounts/{account}/blobServices/default/containers/inputs" in refused["message"]

    check = scene.cli.json(
        f"role assignment check --assignee-object-id {principal} --data-action -o json "
        f"--action Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write "
        f"--scope {created['id']}/blobServices/default/containers/inputs"
    )
    assert check["allowed"] is False

    scene.cli.line(
        f'role assignment create --assignee-object-id {principal} --role "Storage Blob Data Contributor" '
        f"--scope {created['id']} -o none"
    )
    as_contributor = await play()
    assert as_contributor.get("wrote") == "output.txt", as_contributor
    written = await asyncio.to_thread(
        lambda: keyed.get_container_client("inputs").download_blob("output.txt").readall()
    )
    assert written == b"HELLO FROM STORAGE"
