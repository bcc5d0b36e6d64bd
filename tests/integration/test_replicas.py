"""Two servers on one store verify each other's tokens, and a token stops verifying once its key is gone.

Two in-process servers (``in_process_server``) share one database: a SQLite file, or a scratch
PostgreSQL database with ``TETHER_TEST_POSTGRES_URL``. The second starts from copies of the first's
``bootstrap.json`` and ``secrets.key``, as docs/operations.md tells an operator to deploy a replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest

from tests.integration.conftest import POSTGRES_URL
from tests.integration.helpers import API
from tether.store import signing_keys
from tether.testing.databases import scratch_database
from tether.testing.server import InProcessServer, in_process_server, settings_for_tests

KEY_REFRESH_S = 0.3


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[InProcessServer, InProcessServer]]:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    async with contextlib.AsyncExitStack() as stack:
        url = f"sqlite+aiosqlite:///{first_dir / 'tether.db'}"
        if POSTGRES_URL is not None:
            url = await stack.enter_async_context(scratch_database(POSTGRES_URL))
        servers = []
        for data_dir in (first_dir, second_dir):
            settings = settings_for_tests(data_dir, db_url=url)
            settings.tokens.key_refresh_s = KEY_REFRESH_S
            if data_dir is second_dir:
                second_dir.mkdir()
                for name in ("bootstrap.json", "secrets.key"):
                    shutil.copy(first_dir / name, second_dir / name)
            servers.append(await stack.enter_async_context(in_process_server(data_dir, settings=settings)))
        yield servers[0], servers[1]


async def _status_of_get(server: InProcessServer, token: str) -> int:
    async with server.client(token=token) as client:
        return (await client.get(server.subscription, params=API)).status_code


async def _token_cached_by(server: InProcessServer, *, signer: InProcessServer) -> str:
    """A token ``signer`` signs with its current key, presented to ``server`` once (so its verdict is cached)."""
    token = signer.token_for(signer.admin())
    assert await _status_of_get(server, token) == 200
    return token


async def _rotate_and_remove_old_key(server: InProcessServer) -> None:
    """What happens to a key twice a token lifetime after its retirement: a new key signs, the old is dropped."""
    old_kid = server.services.keys.signing_key().kid
    await server.services.keys.rotate()
    async with server.services.store.transaction() as session:
        await signing_keys.drop(session, old_kid)
    await server.services.keys.refresh()  # as KeyRing does after dropping keys itself


async def test_a_token_signed_with_a_key_another_server_just_made_verifies(
    replicas: tuple[InProcessServer, InProcessServer],
) -> None:
    first, second = replicas
    new_kid = await second.services.keys.rotate()  # the first server has not loaded it yet
    token = second.token_for(second.admin())

    assert jwt.get_unverified_header(token)["kid"] == new_kid
    assert await _status_of_get(first, token) == 200


async def test_a_cached_token_is_refused_once_its_key_is_removed(
    replicas: tuple[InProcessServer, InProcessServer],
) -> None:
    first, _ = replicas
    token = await _token_cached_by(first, signer=first)

    await _rotate_and_remove_old_key(first)

    assert await _status_of_get(first, token) == 401


async def test_a_key_removed_through_one_server_stops_verifying_on_the_other(
    replicas: tuple[InProcessServer, InProcessServer],
) -> None:
    first, second = replicas
    token = await _token_cached_by(second, signer=first)

    await _rotate_and_remove_old_key(first)

    await asyncio.sleep(KEY_REFRESH_S * 2)  # the second server reloads its keys at its next request after this

    assert await _status_of_get(second, token) == 401
