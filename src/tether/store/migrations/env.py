"""Alembic environment: runs on the connection that ``Store.open`` passes in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from tether.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through tether.store.engine.Store.open")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
