"""A SQLite connection going back to the pool is rolled back only if a transaction is still open on it.

Every aiosqlite call is a hop to the connection's thread and back, and under load each hop waits for
the busy event loop; the pool's default reset (a rollback on every return) added one to every
transaction. These run on SQLite only: the reset is SQLite's (PostgreSQL keeps SQLAlchemy's default).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import Connection, text

from tether.store import Store


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """SQLite even in the PostgreSQL tier (the conftest's ``store`` follows the tier; this reset is SQLite's)."""
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'tether.db'}")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def rollbacks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each rollback the driver is asked for (aiosqlite's own method, under SQLAlchemy's adapter)."""
    seen: list[str] = []
    original = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        seen.append("rollback")
        await original(self)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    return seen


async def test_a_committed_transaction_returns_its_connection_without_a_rollback(
    sqlite_store: Store, rollbacks: list[str]
) -> None:
    async with sqlite_store.transaction() as session:
        await session.execute(text("CREATE TABLE scratch (n INTEGER)"))
        await session.execute(text("INSERT INTO scratch VALUES (1)"))
    async with sqlite_store.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM scratch"))).scalar_one() == 1

    assert rollbacks == []


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(sqlite_store: Store) -> None:
    async with sqlite_store.transaction() as session:
        await session.execute(text("CREATE TABLE scratch (n INTEGER)"))

    # Below SQLAlchemy's transaction handling: the driver opens a transaction and nobody ends it.
    def insert_and_leave_open(connection: Connection) -> None:
        driver = connection.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        cursor.execute("INSERT INTO scratch VALUES (1)")
        cursor.close()
        assert driver.driver_connection.in_transaction

    def in_transaction(connection: Connection) -> bool:
        driver = connection.connection.dbapi_connection
        assert driver is not None
        return bool(driver.driver_connection.in_transaction)

    async with sqlite_store.engine.connect() as connection:
        await connection.run_sync(insert_and_leave_open)
    # The pool has one connection in it now: the same one comes back, reset.
    async with sqlite_store.engine.connect() as connection:
        assert not await connection.run_sync(in_transaction)
    async with sqlite_store.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM scratch"))).scalar_one() == 0
