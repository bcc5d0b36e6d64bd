"""The blob endpoint with the real Azurite behind it, driven by the unmodified ``azure-storage-blob`` SDK.

One server for the module (Azurite processes take seconds to start): storage accounts ``acct1`` and
``acct2`` in rg1, and three service principals: ``reader`` (Storage Blob Data Reader on acct1),
``writer`` (Storage Blob Data Contributor on acct1) and ``elsewhere`` (Contributor data role on acct2
only). Bearer tokens come from Tether's token service through a minimal ``TokenCredential`` (the
credential is the only test double; the SDK and its HTTP pipeline are the real ones). Each test uses
containers of its own. The SDK is synchronous, so its calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
import pytest_asyncio
from azure.core import MatchConditions
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceModifiedError
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ResourceTypes,
    generate_account_sas,
)

from tests.integration.helpers import API, create_group, rg_path
from tether.domain.principals import Caller, PrincipalKind
from tether.domain.roles import STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER, RoleDefinition
from tether.store import principals
from tether.testing.blob_endpoint import BlobServer, blob_server

STORAGE = "https://storage.azure.com"
T = TypeVar("T")


class TetherToken:
    """A ``TokenCredential`` that asks Tether's token service directly (what ClientSecretCredential would get)."""

    def __init__(self, mint: Callable[[str], str]) -> None:
        self._mint = mint

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        audience = scopes[0].removesuffix("/.default")
        return AccessToken(self._mint(audience), int(time.time()) + 3000)


@dataclass
class Blobs:
    env: BlobServer
    admin: httpx2.AsyncClient
    acct1: str
    acct2: str
    callers: dict[str, Caller]
    keys: dict[str, str]

    def client(self, who: str, account: str = "acct1", *, audience: str = STORAGE, **options: Any) -> BlobServiceClient:
        caller = self.callers[who]
        credential = TetherToken(lambda _aud: self.env.server.token_for(caller, audience=audience))
        return BlobServiceClient(
            self.env.account_url(account), credential=credential, connection_verify=str(self.env.ca_file), **options
        )

    def with_credential(self, credential: Any, account: str = "acct1") -> BlobServiceClient:
        return BlobServiceClient(
            self.env.account_url(account), credential=credential, connection_verify=str(self.env.ca_file)
        )


async def run(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


async def _grant(env: BlobServer, admin: httpx2.AsyncClient, scope: str, role: RoleDefinition, principal: str) -> None:
    definitions = f"{env.server.subscription}/providers/Microsoft.Authorization/roleDefinitions"
    body = {
        "properties": {
            "roleDefinitionId": f"{definitions}/{role.guid}",
            "principalId": principal,
            "principalType": "ServicePrincipal",
        }
    }
    url = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    response = await admin.put(url, params=API, json=body)
    assert response.status_code == 201, response.text


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def blobs(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Blobs]:
    data_dir: Path = tmp_path_factory.mktemp("blobs")
    async with blob_server(data_dir) as env, env.server.client() as admin:
        sub = env.server.subscription
        await create_group(admin, sub, "rg1")
        accounts = {}
        keys = {}
        for name in ("acct1", "acct2"):
            path = f"{rg_path(sub, 'rg1')}/providers/Microsoft.Storage/storageAccounts/{name}"
            response = await admin.put(path, params=API, json={"location": "westeurope"})
            assert response.status_code == 201, response.text
            assert response.json()["properties"]["primaryEndpoints"]["blob"] == f"{env.account_url(name)}/"
            accounts[name] = path
            listed = await admin.post(f"{path}/listKeys", params=API)
            assert listed.status_code == 200, listed.text
            keys[name] = listed.json()["keys"][0]["value"]
        callers = {}
        async with env.server.services.store.transaction() as session:
            for who in ("reader", "writer", "elsewhere"):
                row = await principals.create(
                    session, tenant_id=env.server.bootstrap.tenant_id, kind="ServicePrincipal", display_name=who
                )
                callers[who] = Caller(row.tenant_id, row.object_id, row.app_id, PrincipalKind.SERVICE_PRINCIPAL)
        await _grant(env, admin, accounts["acct1"], STORAGE_BLOB_DATA_READER, callers["reader"].object_id)
        await _grant(env, admin, accounts["acct1"], STORAGE_BLOB_DATA_CONTRIBUTOR, callers["writer"].object_id)
        await _grant(env, admin, accounts["acct2"], STORAGE_BLOB_DATA_CONTRIBUTOR, callers["elsewhere"].object_id)
        yield Blobs(env, admin, accounts["acct1"], accounts["acct2"], callers, keys)


def new_container(service: BlobServiceClient) -> str:
    name = f"c{uuid.uuid4().hex[:12]}"
    service.create_container(name)
    return name


async def test_upload_download_list_delete_with_a_data_contributor(blobs: Blobs) -> None:
    service = blobs.client("writer")

    def scenario() -> None:
        name = new_container(service)
        container = service.get_container_client(name)
        container.upload_blob("dir/a b.txt", b"hello blob", metadata={"kind": "greeting"})
        container.upload_blob("dir/second.txt", b"2")
        assert container.download_blob("dir/a b.txt").readall() == b"hello blob"
        assert sorted(b.name for b in container.list_blobs(name_starts_with="dir/")) == [
            "dir/a b.txt",
            "dir/second.txt",
        ]
        props = container.get_blob_client("dir/a b.txt").get_blob_properties()
        assert props.metadata == {"kind": "greeting"}
        assert props.size == len(b"hello blob")
        assert container.download_blob("dir/a b.txt", offset=6, length=4).readall() == b"blob"
        container.delete_blob("dir/second.txt")
        assert [b.name for b in container.list_blobs()] == ["dir/a b.txt"]
        assert name in [c.name for c in service.list_containers()]

    await run(scenario)


async def test_etag_conditions(blobs: Blobs) -> None:
    service = blobs.client("writer")

    def scenario() -> None:
        container = service.get_container_client(new_container(service))
        blob = container.get_blob_client("etag.txt")
        first = blob.upload_blob(b"v1")
        blob.upload_blob(b"v2", overwrite=True, etag=first["etag"], match_condition=MatchConditions.IfNotModified)
        with pytest.raises(ResourceModifiedError) as stale:
            blob.upload_blob(b"v3", overwrite=True, etag=first["etag"], match_condition=MatchConditions.IfNotModified)
        assert stale.value.status_code == 412
        assert blob.download_blob().readall() == b"v2"

    await run(scenario)


async def test_a_64_mb_blob_goes_up_in_blocks_and_comes_back_whole(blobs: Blobs) -> None:
    # The SDK puts up to 64 MB in one request by default; 8 MB makes it use Put Block + Put Block List.
    service = blobs.client("writer", max_single_put_size=8 * 1024 * 1024, max_block_size=8 * 1024 * 1024)
    payload = os.urandom(64 * 1024 * 1024)

    def scenario() -> None:
        container = service.get_container_client(new_container(service))
        blob = container.get_blob_client("big.bin")
        blob.upload_blob(payload, max_concurrency=4)
        assert len(blob.get_block_list()[0]) == 8
        assert blob.download_blob(max_concurrency=4).readall() == payload

    await run(scenario)


async def test_a_reader_reads_but_its_write_is_refused_naming_the_role_and_scope(blobs: Blobs) -> None:
    def scenario() -> None:
        name = new_container(blobs.client("writer"))
        blobs.client("writer").get_container_client(name).upload_blob("in.txt", b"input")
        container = blobs.client("reader").get_container_client(name)
        assert container.download_blob("in.txt").readall() == b"input"
        with pytest.raises(HttpResponseError) as refused:
            container.upload_blob("out.txt", b"output")
        assert refused.value.status_code == 403
        assert refused.value.error_code == "AuthorizationPermissionMismatch"
        text = str(refused.value)
        assert "Storage Blob Data Contributor" in text
        assert f"storageAccounts/acct1/blobServices/default/containers/{name}" in text
        assert refused.value.response.headers["x-ms-request-id"]

    await run(scenario)


async def test_a_role_on_another_account_gives_nothing_here(blobs: Blobs) -> None:
    def scenario() -> None:
        name = new_container(blobs.client("writer"))
        container = blobs.client("elsewhere").get_container_client(name)
        with pytest.raises(HttpResponseError) as refused:
            container.download_blob("anything").readall()
        assert (refused.value.status_code, refused.value.error_code) == (403, "AuthorizationPermissionMismatch")

    await run(scenario)


async def test_no_token_and_a_token_for_another_audience_are_401(blobs: Blobs) -> None:
    anonymous = httpx2.AsyncClient(verify=ssl.create_default_context(cafile=str(blobs.env.ca_file)))
    async with anonymous:
        response = await anonymous.get(
            f"{blobs.env.account_url('acct1')}/c1/x.txt", headers={"x-ms-version": "2021-08-06"}
        )
    assert response.status_code == 401
    assert response.headers["x-ms-error-code"] == "NoAuthenticationInformation"
    assert "resource_id=https://storage.azure.com" in response.headers["www-authenticate"]
    assert "<Code>NoAuthenticationInformation</Code>" in response.text

    def wrong_audience() -> None:
        service = blobs.client("writer", audience=blobs.env.server.services.public_url)
        with pytest.raises(ClientAuthenticationError) as refused:
            service.get_container_client("c1").download_blob("x.txt").readall()
        assert refused.value.status_code == 401
        assert refused.value.error_code == "InvalidAuthenticationInfo"

    await run(wrong_audience)


async def test_account_sas_reads_and_writes_and_is_refused_when_expired_or_without_write(blobs: Blobs) -> None:
    key = blobs.keys["acct1"]

    def sas(permission: AccountSasPermissions, expiry: dt.datetime) -> str:
        return generate_account_sas(
            "acct1",
            key,
            resource_types=ResourceTypes(service=True, container=True, object=True),
            permission=permission,
            expiry=expiry,
        )

    def scenario() -> None:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        full = blobs.with_credential(sas(AccountSasPermissions(read=True, write=True, create=True, list=True), later))
        name = new_container(full)
        full.get_container_client(name).upload_blob("s.txt", b"by sas")
        read_only = blobs.with_credential(sas(AccountSasPermissions(read=True, list=True), later))
        assert read_only.get_container_client(name).download_blob("s.txt").readall() == b"by sas"
        with pytest.raises(HttpResponseError) as no_write:
            read_only.get_container_client(name).upload_blob("t.txt", b"no")
        assert (no_write.value.status_code, no_write.value.error_code) == (403, "AuthorizationPermissionMismatch")
        expired = blobs.with_credential(
            sas(AccountSasPermissions(read=True), dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        )
        with pytest.raises(ClientAuthenticationError) as too_late:
            expired.get_container_client(name).download_blob("s.txt").readall()
        assert (too_late.value.status_code, too_late.value.error_code) == (403, "AuthenticationFailed")

    await run(scenario)


async def test_shared_key_is_full_access_and_a_wrong_key_is_refused(blobs: Blobs) -> None:
    def scenario() -> None:
        keyed = blobs.with_credential({"account_name": "acct1", "account_key": blobs.keys["acct1"]})
        name = new_container(keyed)
        keyed.get_container_client(name).upload_blob("k.txt", b"by key")
        assert keyed.get_container_client(name).download_blob("k.txt").readall() == b"by key"
        wrong = blobs.with_credential({"account_name": "acct1", "account_key": blobs.keys["acct2"]})
        with pytest.raises(ClientAuthenticationError) as refused:
            wrong.get_container_client(name).download_blob("k.txt").readall()
        assert (refused.value.status_code, refused.value.error_code) == (403, "AuthenticationFailed")

    await run(scenario)


async def test_arm_containers_are_the_engines_containers(blobs: Blobs) -> None:
    containers = f"{blobs.acct1}/blobServices/default/containers"
    created = await blobs.admin.put(f"{containers}/armmade", params=API, json={})
    assert created.status_code == 201, created.text
    again = await blobs.admin.put(f"{containers}/armmade", params=API, json={})
    assert again.status_code == 200
    listed = await blobs.admin.get(containers, params=API)
    assert "armmade" in [c["name"] for c in listed.json()["value"]]
    names = await run(lambda: [c.name for c in blobs.client("writer").list_containers()])
    assert "armmade" in names
    bad = await blobs.admin.put(f"{containers}/Bad_Name", params=API, json={})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "InvalidResourceName")


async def test_list_keys_needs_the_list_keys_action(blobs: Blobs) -> None:
    reader_token = blobs.env.server.token_for(blobs.callers["reader"])
    async with blobs.env.server.client(token=reader_token) as reader:
        response = await reader.post(f"{blobs.acct1}/listKeys", params=API)
    assert response.status_code == 403
    assert "Microsoft.Storage/storageAccounts/listKeys/action" in response.json()["error"]["message"]


async def test_a_reader_writes_once_granted_contributor_on_the_container(blobs: Blobs) -> None:
    name = await run(lambda: new_container(blobs.client("writer")))
    async with blobs.env.server.services.store.transaction() as session:
        row = await principals.create(
            session, tenant_id=blobs.env.server.bootstrap.tenant_id, kind="ServicePrincipal", display_name="job"
        )
    fresh_reader = Caller(row.tenant_id, row.object_id, row.app_id, PrincipalKind.SERVICE_PRINCIPAL)
    blobs.callers["job"] = fresh_reader
    scope = f"{blobs.acct1}/blobServices/default/containers/{name}"
    # Assigned at the account: role assignments need a scope in the resources table, and containers
    # live in Azurite only (docs/storage.md).
    await _grant(blobs.env, blobs.admin, blobs.acct1, STORAGE_BLOB_DATA_READER, fresh_reader.object_id)
    container = blobs.client("job").get_container_client(name)
    with pytest.raises(HttpResponseError) as refused:
        await run(lambda: container.upload_blob("result.txt", b"42"))
    assert refused.value.status_code == 403
    await _grant(blobs.env, blobs.admin, blobs.acct1, STORAGE_BLOB_DATA_CONTRIBUTOR, fresh_reader.object_id)
    await run(lambda: container.upload_blob("result.txt", b"42"))
    assert await run(lambda: container.download_blob("result.txt").readall()) == b"42"
    assert scope in str(refused.value)


async def test_check_access_answers_can_this_principal_read_or_write_the_container(blobs: Blobs) -> None:
    """B6's ``role assignment check --data-action``: the same decision the blob endpoint makes."""
    container = f"{blobs.acct1}/blobServices/default/containers/inputs"
    url = f"{container}/providers/Microsoft.Authorization/checkAccess"

    async def check(who: str, verb: str) -> dict[str, Any]:
        body = {
            "principalId": blobs.callers[who].object_id,
            "action": f"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/{verb}",
            "isDataAction": True,
        }
        response = await blobs.admin.post(url, params=API, json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    assert (await check("reader", "read"))["allowed"] is True
    denied = await check("reader", "write")
    assert denied["allowed"] is False
    assert '--role "Storage Blob Data ' in denied["fix"]  # B6 picks the role with the fewest patterns
    assert (await check("writer", "write"))["allowed"] is True
    assert (await check("elsewhere", "read"))["allowed"] is False
