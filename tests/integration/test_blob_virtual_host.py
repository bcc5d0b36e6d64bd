"""Virtual-host-style blob URLs (``https://<account>.blob.<suffix>``), as azure-ai-ml builds them.

The cloud metadata advertises ``suffixes.storage = core.tether.localhost:<blob port>``; the unmodified
``azure-storage-blob`` SDK then addresses ``<account>.blob.core.tether.localhost:<port>/<container>/<blob>``
and signs Shared Key over ``/<account>/<container>/<blob>``. The same checks hold as on path-style
URLs: Shared Key and SAS checked by Azurite, bearer tokens decided by the authorizer. The names
resolve to 127.0.0.1 through ``loopback_names`` (the stand-in for a wildcard DNS record; no DNS).
One server for the module: accounts ``acct1`` and ``acct2``, a ``reader`` and a ``writer`` on acct1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx2
import pytest
import pytest_asyncio
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import AccountSasPermissions, BlobServiceClient, ResourceTypes, generate_account_sas

from tests.integration.helpers import API, create_group, rg_path
from tether.domain.principals import Caller, PrincipalKind
from tether.domain.roles import STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER
from tether.store import principals
from tether.testing.blob_endpoint import BlobServer, blob_server, loopback_names

STORAGE = "https://storage.azure.com"
T = TypeVar("T")


class TetherToken:
    """A ``TokenCredential`` that asks Tether's token service directly (the only test double here)."""

    def __init__(self, mint: Callable[[], str]) -> None:
        self._mint = mint

    def get_token(self, *_scopes: str, **_: Any) -> AccessToken:
        return AccessToken(self._mint(), int(time.time()) + 3000)


@dataclass
class Hosts:
    env: BlobServer
    admin: httpx2.AsyncClient
    callers: dict[str, Caller]
    keys: dict[str, str]

    def virtual(self, credential: Any, account: str = "acct1") -> BlobServiceClient:
        return BlobServiceClient(
            self.env.virtual_host_url(account), credential=credential, connection_verify=str(self.env.ca_file)
        )

    def token(self, who: str) -> TetherToken:
        return TetherToken(lambda: self.env.server.token_for(self.callers[who], audience=STORAGE))

    def key(self, account: str) -> dict[str, str]:
        return {"account_name": account, "account_key": self.keys[account]}


async def run(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def hosts(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hosts]:
    data_dir: Path = tmp_path_factory.mktemp("virtual-hosts")
    async with blob_server(data_dir) as env, env.server.client() as admin:
        sub = env.server.subscription
        await create_group(admin, sub, "rg1")
        keys, scopes = {}, {}
        for name in ("acct1", "acct2"):
            path = f"{rg_path(sub, 'rg1')}/providers/Microsoft.Storage/storageAccounts/{name}"
            response = await admin.put(path, params=API, json={"location": "westeurope"})
            assert response.status_code == 201, response.text
            listed = await admin.post(f"{path}/listKeys", params=API)
            keys[name], scopes[name] = listed.json()["keys"][0]["value"], path
        callers = {}
        async with env.server.services.store.transaction() as session:
            for who in ("reader", "writer"):
                row = await principals.create(
                    session, tenant_id=env.server.bootstrap.tenant_id, kind="ServicePrincipal", display_name=who
                )
                callers[who] = Caller(row.tenant_id, row.object_id, row.app_id, PrincipalKind.SERVICE_PRINCIPAL)
        definitions = f"{sub}/providers/Microsoft.Authorization/roleDefinitions"
        for who, role in (("reader", STORAGE_BLOB_DATA_READER), ("writer", STORAGE_BLOB_DATA_CONTRIBUTOR)):
            body = {
                "properties": {
                    "roleDefinitionId": f"{definitions}/{role.guid}",
                    "principalId": callers[who].object_id,
                    "principalType": "ServicePrincipal",
                }
            }
            url = f"{scopes['acct1']}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
            granted = await admin.put(url, params=API, json=body)
            assert granted.status_code == 201, granted.text
        with loopback_names(env.server.services.settings.storage.virtual_host_suffix()):
            yield Hosts(env, admin, callers, keys)


async def test_the_cloud_metadata_names_the_blob_endpoint_as_the_storage_suffix(hosts: Hosts) -> None:
    async with hosts.env.server.client(token="") as anonymous:
        response = await anonymous.get("/metadata/endpoints", params={"api-version": "2019-05-01"})

    assert response.status_code == 200, response.text
    port = urlsplit(hosts.env.blob_url).port
    assert response.json()[0]["suffixes"]["storage"] == f"core.tether.localhost:{port}"
    assert hosts.env.virtual_host_url("acct1") == f"https://acct1.blob.core.tether.localhost:{port}"


async def test_shared_key_sas_and_a_token_work_on_virtual_host_urls_over_the_same_blobs(hosts: Hosts) -> None:
    def scenario() -> None:
        keyed = hosts.virtual(hosts.keys["acct1"])  # a bare key, as azure-ai-ml passes it: account from the host
        name = f"c{uuid.uuid4().hex[:12]}"
        keyed.create_container(name)
        keyed.get_container_client(name).upload_blob("dir/k.txt", b"by key")
        assert [b.name for b in keyed.get_container_client(name).list_blobs()] == ["dir/k.txt"]
        path_style = BlobServiceClient(
            hosts.env.account_url("acct1"), credential=hosts.key("acct1"), connection_verify=str(hosts.env.ca_file)
        )
        assert path_style.get_container_client(name).download_blob("dir/k.txt").readall() == b"by key"
        sas = generate_account_sas(
            "acct1",
            hosts.keys["acct1"],
            resource_types=ResourceTypes(service=True, container=True, object=True),
            permission=AccountSasPermissions(read=True, list=True),
            expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        )
        assert hosts.virtual(sas).get_container_client(name).download_blob("dir/k.txt").readall() == b"by key"
        writer = hosts.virtual(hosts.token("writer")).get_container_client(name)
        writer.upload_blob("t.txt", b"by token")
        assert keyed.get_container_client(name).download_blob("t.txt").readall() == b"by token"

    await run(scenario)


async def test_virtual_host_requests_are_refused_as_path_style_ones_are(hosts: Hosts) -> None:
    def scenario() -> None:
        name = f"c{uuid.uuid4().hex[:12]}"
        hosts.virtual(hosts.keys["acct1"]).create_container(name)
        reader = hosts.virtual(hosts.token("reader")).get_container_client(name)
        with pytest.raises(HttpResponseError) as no_write:
            reader.upload_blob("r.txt", b"no")
        assert (no_write.value.status_code, no_write.value.error_code) == (403, "AuthorizationPermissionMismatch")
        assert f"storageAccounts/acct1/blobServices/default/containers/{name}" in str(no_write.value)
        wrong_key = hosts.virtual(hosts.keys["acct2"]).get_container_client(name)
        with pytest.raises(ClientAuthenticationError) as forged:
            wrong_key.get_container_properties()
        assert (forged.value.status_code, forged.value.error_code) == (403, "AuthenticationFailed")
        # acct1's key at acct2's name: the account is the host's, and acct1's key does not sign for it
        other_host = hosts.virtual(hosts.keys["acct1"], account="acct2")
        with pytest.raises(ClientAuthenticationError) as elsewhere:
            list(other_host.list_containers())
        assert (elsewhere.value.status_code, elsewhere.value.error_code) == (403, "AuthenticationFailed")
        # the writer's role is on acct1: on acct2's host the same token gives nothing
        with pytest.raises(HttpResponseError) as no_role:
            list(hosts.virtual(hosts.token("writer"), account="acct2").list_containers())
        assert (no_role.value.status_code, no_role.value.error_code) == (403, "AuthorizationPermissionMismatch")
        assert "storageAccounts/acct2/blobServices/default" in str(no_role.value)

    await run(scenario)

    verify = ssl.create_default_context(cafile=str(hosts.env.ca_file))
    async with httpx2.AsyncClient(verify=verify) as anonymous:
        nobody = await anonymous.get(
            f"{hosts.env.virtual_host_url('acct1')}/c1/x.txt", headers={"x-ms-version": "2021-08-06"}
        )
        unknown = await anonymous.get(
            f"{hosts.env.virtual_host_url('nosuchacct')}/c1/x.txt", headers={"x-ms-version": "2021-08-06"}
        )
    assert (nobody.status_code, nobody.headers["x-ms-error-code"]) == (401, "NoAuthenticationInformation")
    assert (unknown.status_code, unknown.headers["x-ms-error-code"]) == (404, "ResourceNotFound")
    assert "nosuchacct" in unknown.text
