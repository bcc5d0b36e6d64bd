"""Scratch PostgreSQL databases for running the same tests on PostgreSQL as on SQLite.

``scratch_database(admin_url)`` creates an empty database for one test and drops it afterwards.
``admin_url`` is an SQLAlchemy asyncpg URL to an existing database with the right to create others
(``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg


@asynccontextmanager
async def scratch_database(admin_url: str) -> AsyncIterator[str]:
    url = urlsplit(admin_url)
    name = f"tether_test_{secrets.token_hex(6)}"
    dsn = urlunsplit(url._replace(scheme="postgresql"))  # asyncpg's own spelling of the same server
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(url._replace(path=f"/{name}"))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
