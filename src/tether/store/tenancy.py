"""Tenants and subscriptions: the roots every principal and resource hangs from.

Functions return ``Tenant`` and ``Subscription`` models, never rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.domain.tenancy import Subscription, Tenant
from tether.store.tables import SubscriptionRow, TenantRow


def _tenant_of(row: TenantRow) -> Tenant:
    return Tenant(id=row.id, display_name=row.display_name, created_at=row.created_at)


def _subscription_of(row: SubscriptionRow) -> Subscription:
    return Subscription(id=row.id, tenant_id=row.tenant_id, display_name=row.display_name, created_at=row.created_at)


async def create_tenant(session: AsyncSession, *, tenant_id: str, display_name: str) -> Tenant:
    row = TenantRow(id=tenant_id, display_name=display_name, created_at=dt.datetime.now(dt.UTC))
    session.add(row)
    await session.flush()
    return _tenant_of(row)


async def get_tenant(session: AsyncSession, tenant_id: str) -> Tenant | None:
    row = await session.get(TenantRow, tenant_id.lower())
    return None if row is None else _tenant_of(row)


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return [_tenant_of(r) for r in (await session.execute(select(TenantRow).order_by(TenantRow.created_at))).scalars()]


async def create_subscription(
    session: AsyncSession, *, subscription_id: str, tenant_id: str, display_name: str
) -> Subscription:
    row = SubscriptionRow(
        id=subscription_id, tenant_id=tenant_id, display_name=display_name, created_at=dt.datetime.now(dt.UTC)
    )
    session.add(row)
    await session.flush()
    return _subscription_of(row)


async def get_subscription(session: AsyncSession, subscription_id: str) -> Subscription | None:
    row = await session.get(SubscriptionRow, subscription_id.lower())
    return None if row is None else _subscription_of(row)


async def list_subscriptions(session: AsyncSession, tenant_id: str) -> list[Subscription]:
    query = select(SubscriptionRow).where(SubscriptionRow.tenant_id == tenant_id).order_by(SubscriptionRow.created_at)
    return [_subscription_of(r) for r in (await session.execute(query)).scalars()]
