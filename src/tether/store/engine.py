"""The store's engine and sessions: SQLite (WAL, foreign keys) by default, any async SQLAlchemy URL.

``Store.open`` creates the engine and upgrades the schema through Alembic, so a server always runs
on the newest schema. ``Store.transaction`` is the unit of work: one short transaction, never held
across a network call (reconcilers read, release, call out, then apply in a new transaction).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, PoolResetState, event, make_url
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from tether.errors import AlreadyExists, Conflict, Unavailable

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _rollback_if_open(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """Reset a SQLite connection going back to the pool: roll back only a transaction still open.

    The default reset rolls back every returned connection, and each aiosqlite call is a hop to the
    connection's thread and back: one more wait on the event loop for every transaction, which almost
    always committed or rolled back already (``in_transaction`` is SQLite's own answer, no hop)."""
    if state.terminate_only or not state.asyncio_safe:
        return  # the pool is discarding the connection, or must not do I/O here
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "tether.store:migrations")
    config.attributes["connection"] = connection
    return config


def upgrade_schema(connection: Connection, revision: str = "head") -> None:
    """Migrate the store's schema on ``connection`` to ``revision`` (``Store.open`` does it to the newest)."""
    command.upgrade(_alembic_config(connection), revision)


_UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE; SQLite says "UNIQUE constraint failed"


def integrity_conflict(error: IntegrityError) -> Conflict:
    """The typed error for a violated constraint: ``AlreadyExists`` for a unique key, else ``Conflict``."""
    cause = error.orig
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if state == _UNIQUE_VIOLATION or "unique" in str(cause).lower():
        return AlreadyExists("Another request created this at the same time; send the request again.")
    return Conflict(
        "The change conflicts with a concurrent change (a resource it refers to was changed or removed); "
        "read the current state and send the request again."
    )


class Store:
    """Owns the engine; hands out transactions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        sqlite = make_url(url).get_backend_name() == "sqlite"
        engine = create_async_engine(url, pool_reset_on_return=None) if sqlite else create_async_engine(url)
        if sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "reset", _rollback_if_open)
        store = cls(engine)
        if migrate:
            try:
                async with engine.begin() as connection:
                    await connection.run_sync(upgrade_schema)
            except OSError as e:
                await engine.dispose()
                raise Unavailable(f"The store at {engine.url!r} cannot be opened: {e}") from e
        return store

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed on success, rolled back on any exception.

        A constraint the database enforces (a unique key taken by a concurrent writer, a parent deleted
        meanwhile) becomes a typed ``Conflict``; callers never see SQLAlchemy's exceptions."""
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except IntegrityError as e:
            raise integrity_conflict(e) from e
        except (OperationalError, InterfaceError) as e:
            # A read-only or full disk, a locked or unreachable database: the request may succeed later,
            # and the operator needs the cause (503 with it, not a bare 500; the log has the rest).
            log.error("store failure: %s", e.orig)
            raise Unavailable(
                f"The store cannot be used now: {e.orig}. Check the database (disk space, a read-only data "
                "directory or file, the PostgreSQL server) and retry.",
                code="StoreUnavailable",
            ) from e

    async def close(self) -> None:
        await self.engine.dispose()
