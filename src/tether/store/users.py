"""Users: principals of kind ``User`` with a user principal name and a password hash.

The hash is made by the caller (``tether.crypto.hash_secret``, scrypt: slow, so off the event loop) and
stored here; the clear password never reaches the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.store import principals
from tether.store.tables import PrincipalRow, UserRow

USER_KIND = "User"


async def create(
    session: AsyncSession, *, tenant_id: str, display_name: str, user_principal_name: str, password_hash: str
) -> tuple[PrincipalRow, UserRow]:
    principal = await principals.create(session, tenant_id=tenant_id, kind=USER_KIND, display_name=display_name)
    user = UserRow(
        object_id=principal.object_id,
        tenant_id=tenant_id,
        user_principal_name=user_principal_name,
        user_principal_name_key=user_principal_name.lower(),
        password_hash=password_hash,
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(user)
    await session.flush()
    return principal, user


async def get_by_name(session: AsyncSession, user_principal_name: str) -> tuple[PrincipalRow, UserRow] | None:
    query = (
        select(PrincipalRow, UserRow)
        .join(UserRow, UserRow.object_id == PrincipalRow.object_id)
        .where(UserRow.user_principal_name_key == user_principal_name.lower())
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def get(session: AsyncSession, object_id: str) -> tuple[PrincipalRow, UserRow] | None:
    query = (
        select(PrincipalRow, UserRow)
        .join(UserRow, UserRow.object_id == PrincipalRow.object_id)
        .where(PrincipalRow.object_id == object_id.lower())
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def list_in_tenant(session: AsyncSession, tenant_id: str) -> Sequence[tuple[PrincipalRow, UserRow]]:
    query = (
        select(PrincipalRow, UserRow)
        .join(UserRow, UserRow.object_id == PrincipalRow.object_id)
        .where(UserRow.tenant_id == tenant_id)
        .order_by(UserRow.user_principal_name_key)
    )
    return [(r[0], r[1]) for r in (await session.execute(query)).all()]
