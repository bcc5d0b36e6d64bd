"""Integration fixtures: a fresh in-process server per test and an admin client to it.

The store is SQLite by default. With ``TETHER_TEST_POSTGRES_URL`` set (an asyncpg SQLAlchemy URL
of a database whose user may create databases; ``make test-postgres`` sets it), every test runs on
a scratch PostgreSQL database of its own instead: the same tests, the other dialect.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from tether.store import Store
from tether.testing.databases import scratch_database
from tether.testing.server import InProcessServer, in_process_server, settings_for_tests

POSTGRES_URL = os.environ.get("TETHER_TEST_POSTGRES_URL")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    data_dir = tmp_path / "server"
    if POSTGRES_URL is None:
        async with in_process_server(data_dir) as running:
            yield running
        return
    async with (
        scratch_database(POSTGRES_URL) as url,
        in_process_server(data_dir, settings=settings_for_tests(data_dir, db_url=url)) as running,
    ):
        yield running


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated store of its own (no server): SQLite, or a scratch PostgreSQL database."""
    async with contextlib.AsyncExitStack() as stack:
        url = f"sqlite+aiosqlite:///{tmp_path / 'tether.db'}"
        if POSTGRES_URL is not None:
            url = await stack.enter_async_context(scratch_database(POSTGRES_URL))
        opened = await Store.open(url)
        try:
            yield opened
        finally:
            await opened.close()


@pytest.fixture
async def client(server: InProcessServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with server.client() as http:
        yield http
