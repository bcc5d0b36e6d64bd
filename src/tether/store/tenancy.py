"""Tenants and subscriptions: the roots every principal and resource hangs from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.store.tables import SubscriptionRow, TenantRow


async def create_tenant(session: AsyncSession, *, tenant_id: str, display_name: str) -> TenantRow:
    row = TenantRow(id=tenant_id, display_name=display_name, created_at=dt.datetime.now(dt.UTC))
    session.add(row)
    await session.flush()
    return row


async def get_tenant(session: AsyncSession, tenant_id: str) -> TenantRow | None:
    return await session.get(TenantRow, tenant_id.lower())


async def list_tenants(session: AsyncSession) -> Sequence[TenantRow]:
    return (await session.execute(select(TenantRow).order_by(TenantRow.created_at))).scalars().all()


async def create_subscription(
    session: AsyncSession, *, subscription_id: str, tenant_id: str, display_name: str
) -> SubscriptionRow:
    row = SubscriptionRow(
        id=subscription_id, tenant_id=tenant_id, display_name=display_name, created_at=dt.datetime.now(dt.UTC)
    )
    session.add(row)
    await session.flush()
    return row


async def get_subscription(session: AsyncSession, subscription_id: str) -> SubscriptionRow | None:
    return await session.get(SubscriptionRow, subscription_id.lower())


async def list_subscriptions(session: AsyncSession, tenant_id: str) -> Sequence[SubscriptionRow]:
    query = select(SubscriptionRow).where(SubscriptionRow.tenant_id == tenant_id).order_by(SubscriptionRow.created_at)
    return (await session.execute(query)).scalars().all()
