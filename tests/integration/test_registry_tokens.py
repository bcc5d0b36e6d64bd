"""Container registries against the real Distribution process, with Tether as their token authority.

One server for the module (registry processes take a moment to start): registries ``registrya`` and
``registryb`` in rg1; service principals ``pusher`` (AcrPush on rega), ``puller`` (AcrPull on rega),
``pullerb`` (AcrPull on regb) and ``nobody``. Every refusal asserted here is the registry process's
own answer to the token Tether issued (or did not issue). Tokens come from the server's own
``/oauth2/exchange`` and ``/oauth2/token`` (in process); the registries' bytes from their processes,
which listen on the login servers themselves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.helpers import API, create_group, rg_path
from tether.domain.principals import Caller, PrincipalKind
from tether.domain.roles import ACR_PULL, ACR_PUSH, RoleDefinition
from tether.registry.tokens import Grant
from tether.settings import RegistrySettings
from tether.store import principals
from tether.testing.oci_push import artifact, exchange, pull_manifest, push, registry_token
from tether.testing.registry import registry_server
from tether.testing.server import PUBLIC_URL, InProcessServer, in_process_server, settings_for_tests


@dataclass
class Env:
    server: InProcessServer
    http: httpx2.AsyncClient  # to the registries' login servers (HTTPS, Tether's CA)
    tether: httpx2.AsyncClient  # to the server (its token endpoints), without credentials
    login: dict[str, str]
    callers: dict[str, Caller]
    ids: dict[str, str]

    async def refresh(self, who: str, registry: str) -> str:
        token = self.server.token_for(self.callers[who])
        answer = await exchange(self.tether, self.login[registry], access_token=token)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["refresh_token"])

    async def token(self, who: str, registry: str, scope: str) -> str:
        refresh = await self.refresh(who, registry)
        return await registry_token(self.tether, self.login[registry], refresh_token=refresh, scope=scope)


async def _grant(server: InProcessServer, admin: httpx2.AsyncClient, scope: str, role: RoleDefinition, who: str) -> str:
    body = {
        "properties": {
            "roleDefinitionId": f"{server.subscription}/providers/Microsoft.Authorization/roleDefinitions/{role.guid}",
            "principalId": who,
            "principalType": "ServicePrincipal",
        }
    }
    assignment = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    response = await admin.put(assignment, params=API, json=body)
    assert response.status_code == 201, response.text
    return assignment


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with registry_server(tmp_path_factory.mktemp("registries")) as (server, ca), server.client() as admin:
        await create_group(admin, server.subscription, "rg1")
        ids, login = {}, {}
        for name in ("registrya", "registryb"):
            path = f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.ContainerRegistry/registries/{name}"
            response = await admin.put(path, params=API, json={"location": "westeurope", "sku": {"name": "Basic"}})
            assert response.status_code == 201, response.text
            ids[name], login[name] = path, response.json()["properties"]["loginServer"]
        callers = {}
        async with server.services.store.transaction() as session:
            for who in ("pusher", "puller", "pullerb", "nobody", "revoked"):
                row = await principals.create(
                    session, tenant_id=server.bootstrap.tenant_id, kind="ServicePrincipal", display_name=who
                )
                callers[who] = Caller(row.tenant_id, row.object_id, row.app_id, PrincipalKind.SERVICE_PRINCIPAL)
        callers["admin"] = server.admin()  # Owner on the subscription
        await _grant(server, admin, ids["registrya"], ACR_PUSH, callers["pusher"].object_id)
        await _grant(server, admin, ids["registrya"], ACR_PULL, callers["puller"].object_id)
        await _grant(server, admin, ids["registryb"], ACR_PULL, callers["pullerb"].object_id)
        verify = ssl.create_default_context(cafile=str(ca))
        async with httpx2.AsyncClient(verify=verify, timeout=30) as http, server.client(token="") as tether:
            yield Env(server, http, tether, login, callers, ids)


async def test_push_with_acrpush_then_pull_with_acrpull(env: Env) -> None:
    item = artifact(b"layer for the pull test")
    token = await env.token("pusher", "registrya", "repository:app/one:pull,push")
    assert await push(env.http, env.login["registrya"], "app/one", "v1", item, token=token) == 201
    pull = await env.token("puller", "registrya", "repository:app/one:pull")
    answer = await pull_manifest(env.http, env.login["registrya"], "app/one", "v1", token=pull)
    assert answer.status_code == 200, answer.text
    assert answer.content == item.manifest


async def test_push_refused_with_only_acrpull(env: Env) -> None:
    token = await env.token("puller", "registrya", "repository:app/two:pull,push")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": "app/two", "actions": ["pull"]}]
    status = await push(env.http, env.login["registrya"], "app/two", "v1", artifact(b"x"), token=token)
    assert status in (401, 403)


async def test_anonymous_pull_refused_with_a_challenge_naming_tether(env: Env) -> None:
    login = env.login["registrya"]
    answer = await pull_manifest(env.http, login, "app/one", "v1", token="")
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert f'realm="{PUBLIC_URL}/oauth2/token"' in challenge
    assert f'service="{login}"' in challenge
    anonymous = await env.tether.post("/oauth2/token", data={"service": login, "scope": "x"})
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["code"] == "UNAUTHORIZED"


async def test_a_token_from_the_challenges_realm_pulls(env: Env) -> None:
    """What docker and containerd do: read realm and service from the 401, ask the realm with basic auth."""
    item = artifact(b"pulled as the challenge says")
    pushed = await env.token("pusher", "registrya", "repository:app/realm:pull,push")
    assert await push(env.http, env.login["registrya"], "app/realm", "v1", item, token=pushed) == 201
    challenge = (await pull_manifest(env.http, env.login["registrya"], "app/realm", "v1", token="")).headers
    fields = dict(part.split("=", 1) for part in challenge["www-authenticate"].removeprefix("Bearer ").split(","))
    realm, service = fields["realm"].strip('"'), fields["service"].strip('"')
    assert realm.startswith(PUBLIC_URL)
    refresh = await env.refresh("puller", "registrya")
    answer = await env.tether.get(
        realm.removeprefix(PUBLIC_URL),
        params={"service": service, "scope": "repository:app/realm:pull"},
        auth=("00000000-0000-0000-0000-000000000000", refresh),
    )
    assert answer.status_code == 200, answer.text
    pulled = await pull_manifest(env.http, service, "app/realm", "v1", token=answer.json()["token"])
    assert pulled.status_code == 200
    assert pulled.content == item.manifest


async def test_no_role_gets_no_access(env: Env) -> None:
    token = await env.token("nobody", "registrya", "repository:app/one:pull")
    assert jwt.decode(token, options={"verify_signature": False})["access"] == []
    answer = await pull_manifest(env.http, env.login["registrya"], "app/one", "v1", token=token)
    assert answer.status_code == 401


async def test_token_for_registry_a_refused_by_registry_b(env: Env) -> None:
    item = artifact(b"same repository name in both registries")
    pushed = await env.token("pusher", "registrya", "repository:shared/name:pull,push")
    assert await push(env.http, env.login["registrya"], "shared/name", "v1", item, token=pushed) == 201
    from_a = await env.token("puller", "registrya", "repository:shared/name:pull")
    answer = await pull_manifest(env.http, env.login["registryb"], "shared/name", "v1", token=from_a)
    assert answer.status_code == 401
    # A refresh token for registrya is not accepted by regb's token endpoint either.
    refresh_a = await env.refresh("pullerb", "registrya")
    with pytest.raises(httpx2.HTTPStatusError) as refused:
        await registry_token(env.tether, env.login["registryb"], refresh_token=refresh_a, scope="repository:x:pull")
    assert refused.value.response.status_code in (400, 401)


async def test_expired_and_forged_tokens_refused_by_the_registry(env: Env) -> None:
    login = env.login["registrya"]
    signer = env.server.services.registries.signer
    grants = [Grant("repository", "app/one", ("pull",))]
    expired, _ = signer.access_token(
        subject="someone", service=login, grants=grants, lifetime=dt.timedelta(minutes=-10)
    )
    assert (await pull_manifest(env.http, login, "app/one", "v1", token=expired)).status_code == 401
    claims = jwt.decode(
        signer.access_token(subject="someone", service=login, grants=grants)[0], options={"verify_signature": False}
    )
    forged = jwt.encode(
        claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": signer.key_id}
    )
    assert (await pull_manifest(env.http, login, "app/one", "v1", token=forged)).status_code == 401
    genuine, _ = signer.access_token(subject="someone", service=login, grants=grants)
    assert (await pull_manifest(env.http, login, "app/one", "v1", token=genuine)).status_code == 200


async def test_exchange_refuses_a_bad_access_token(env: Env) -> None:
    answer = await exchange(env.tether, env.login["registrya"], access_token="not-a-token")
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"


async def test_bad_registry_requests_get_clear_arm_errors_and_change_nothing(env: Env) -> None:
    async with env.server.client() as admin:
        group = rg_path(env.server.subscription, "rg1")
        bad = await admin.put(f"{group}/providers/Microsoft.ContainerRegistry/registries/a-b", params=API, json={})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "InvalidResourceName"
        await create_group(admin, env.server.subscription, "rg2")
        taken = await admin.put(
            f"{rg_path(env.server.subscription, 'rg2')}/providers/Microsoft.ContainerRegistry/registries/registrya",
            params=API,
            json={},
        )
        assert taken.status_code == 409
        assert taken.json()["error"]["code"] == "AlreadyInUse"
        listed = await admin.get(
            f"{env.server.subscription}/providers/Microsoft.ContainerRegistry/registries", params=API
        )
        assert sorted(r["name"] for r in listed.json()["value"]) == ["registrya", "registryb"]


@pytest.mark.parametrize("service", ["127.0.0.1:1", "registrya", ""])
async def test_a_service_that_is_no_login_server_is_a_400(env: Env, service: str) -> None:
    token = env.server.token_for(env.callers["puller"])
    exchanged = await exchange(env.tether, service, access_token=token)
    assert exchanged.status_code == 400
    assert exchanged.json()["errors"][0]["code"] == "DENIED"
    assert "not one" in exchanged.json()["errors"][0]["message"]
    refresh = await env.refresh("puller", "registrya")
    data = {"grant_type": "refresh_token", "service": service, "scope": "repository:x:pull", "refresh_token": refresh}
    answer = await env.tether.post("/oauth2/token", data=data)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "DENIED"


async def test_a_killed_registry_process_is_restarted_and_serves_again(env: Env) -> None:
    login = env.login["registryb"]
    item = artifact(b"survives a restart")
    pushed = await env.token("admin", "registryb", "repository:app/restart:pull,push")
    assert await push(env.http, login, "app/restart", "v1", item, token=pushed) == 201
    processes = env.server.services.registries.processes
    killed = processes.pid_of("registryb")
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    for _ in range(300):  # the first restart is after 0.5 s
        if processes.pid_of("registryb") not in (None, killed):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the killed registry process was not restarted within 30 s")
    pull = await env.token("pullerb", "registryb", "repository:app/restart:pull")
    answer = await pull_manifest(env.http, login, "app/restart", "v1", token=pull)
    assert answer.status_code == 200, answer.text
    assert answer.content == item.manifest


async def test_creating_a_registry_without_the_binary_is_an_arm_503_naming_the_install(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("no-registry-bin")
    settings = settings_for_tests(data_dir)
    settings = settings.model_copy(update={"registry": RegistrySettings(registry_bin=data_dir / "missing")})
    async with in_process_server(data_dir, settings=settings) as server, server.client() as admin:
        await create_group(admin, server.subscription, "rg1")
        path = f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.ContainerRegistry/registries/nobinary"
        answer = await admin.put(path, params=API, json={"location": "westeurope"})
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "RegistryUnavailable"
        assert "tools/registry/install.sh" in answer.json()["error"]["message"]
        assert (await admin.get(path, params=API)).status_code == 404


async def test_revoking_acrpull_stops_the_next_pull(env: Env) -> None:
    item = artifact(b"revocation")
    pushed = await env.token("pusher", "registrya", "repository:app/revoke:pull,push")
    assert await push(env.http, env.login["registrya"], "app/revoke", "v1", item, token=pushed) == 201
    async with env.server.client() as admin:
        assignment = await _grant(env.server, admin, env.ids["registrya"], ACR_PULL, env.callers["revoked"].object_id)
        granted = await env.token("revoked", "registrya", "repository:app/revoke:pull")
        answer = await pull_manifest(env.http, env.login["registrya"], "app/revoke", "v1", token=granted)
        assert answer.status_code == 200
        deleted = await admin.delete(assignment, params=API)
        assert deleted.status_code == 200, deleted.text
    after = await env.token("revoked", "registrya", "repository:app/revoke:pull")
    answer = await pull_manifest(env.http, env.login["registrya"], "app/revoke", "v1", token=after)
    assert answer.status_code == 401


async def test_a_stored_registry_is_served_again_on_its_port_when_the_server_starts(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("registry-restart")
    item = artifact(b"kept across a server restart")
    async with registry_server(data_dir) as (server, ca), server.client() as admin:
        await create_group(admin, server.subscription, "rg1")
        path = f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.ContainerRegistry/registries/keptregistry"
        created = await admin.put(path, params=API, json={"location": "westeurope"})
        assert created.status_code == 201, created.text
        login = created.json()["properties"]["loginServer"]
        refresh = (await exchange(admin, login, access_token=server.token_for(server.admin()))).json()["refresh_token"]
        token = await registry_token(admin, login, refresh_token=refresh, scope="repository:k:push,pull")
        async with httpx2.AsyncClient(verify=ssl.create_default_context(cafile=str(ca)), timeout=30) as http:
            assert await push(http, login, "k", "v1", item, token=token) == 201
    async with registry_server(data_dir) as (server, ca), server.client() as admin:
        assert server.services.registries.login_server_of("keptregistry") == login
        refresh = (await exchange(admin, login, access_token=server.token_for(server.admin()))).json()["refresh_token"]
        token = await registry_token(admin, login, refresh_token=refresh, scope="repository:k:pull")
        async with httpx2.AsyncClient(verify=ssl.create_default_context(cafile=str(ca)), timeout=30) as http:
            answer = await pull_manifest(http, login, "k", "v1", token=token)
        assert answer.status_code == 200, answer.text
        assert answer.content == item.manifest
