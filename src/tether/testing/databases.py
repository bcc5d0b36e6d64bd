"""Scratch PostgreSQL databases for running the same tests on PostgreSQL as on SQLite.

``scratch_database(admin_url)`` creates an empty database for one test and drops it afterwards.
``admin_url`` is an SQLAlchemy asyncpg URL to an existing database with the right to create others
(``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url


@asynccontextmanager
async def scratch_database(admin_url: str) -> AsyncIterator[str]:
    url = make_url(admin_url)
    name = f"tether_test_{secrets.token_hex(6)}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
