"""Secrets of resources: the sealed kubeconfig of a managed cluster, the hashed agent credential of a connected
one, the sealed keys of a storage account."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tether.store.tables import ClusterSecretRow

KUBECONFIG = "kubeconfig"
AGENT_CREDENTIAL = "agent-credential"
STORAGE_ACCOUNT_KEYS = "storage-account-keys"


async def put(session: AsyncSession, *, resource_key: str, kind: str, value: str) -> None:
    row = await session.get(ClusterSecretRow, (resource_key, kind))
    if row is None:
        session.add(
            ClusterSecretRow(resource_key=resource_key, kind=kind, value=value, created_at=dt.datetime.now(dt.UTC))
        )
    else:
        row.value, row.created_at = value, dt.datetime.now(dt.UTC)
    await session.flush()


async def get(session: AsyncSession, *, resource_key: str, kind: str) -> str | None:
    row = await session.get(ClusterSecretRow, (resource_key, kind))
    return row.value if row else None


async def remove(session: AsyncSession, *, resource_key: str, kind: str | None = None) -> None:
    query = delete(ClusterSecretRow).where(ClusterSecretRow.resource_key == resource_key)
    if kind is not None:
        query = query.where(ClusterSecretRow.kind == kind)
    await session.execute(query)
