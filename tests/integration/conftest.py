"""Integration fixtures: a fresh in-process server per test and an admin client to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tether.testing.server import InProcessServer, in_process_server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    async with in_process_server(tmp_path / "server") as running:
        yield running


@pytest.fixture
async def client(server: InProcessServer) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client() as http:
        yield http
