"""Users: principals of kind ``User`` with a user principal name and a password hash.

Functions return ``User`` models (the principal with its user principal name). The hash is made by the
caller (``tether.crypto.hash_secret``, scrypt: slow, so off the event loop) and stored here; the clear
password never reaches the store, and the hash leaves it only for the sign-in check
(``get_for_sign_in``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.domain.principals import PrincipalKind
from tether.domain.users import User
from tether.store import principals
from tether.store.tables import PrincipalRow, UserRow


def _user_of(principal: PrincipalRow, user: UserRow) -> User:
    return User(
        principal=principals.principal_of(principal),
        user_principal_name=user.user_principal_name,
        created_at=user.created_at,
    )


def _joined() -> Select[PrincipalRow, UserRow]:
    return select(PrincipalRow, UserRow).join(UserRow, UserRow.object_id == PrincipalRow.object_id)


async def create(
    session: AsyncSession, *, tenant_id: str, display_name: str, user_principal_name: str, password_hash: str
) -> User:
    principal = await principals.create(
        session, tenant_id=tenant_id, kind=PrincipalKind.USER, display_name=display_name
    )
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
    return User(principal=principal, user_principal_name=user.user_principal_name, created_at=user.created_at)


async def get_for_sign_in(session: AsyncSession, user_principal_name: str) -> tuple[User, str] | None:
    """The user with that name (any case) and its password hash, for the sign-in check only."""
    query = _joined().where(UserRow.user_principal_name_key == user_principal_name.lower())
    row = (await session.execute(query)).first()
    return None if row is None else (_user_of(row[0], row[1]), row[1].password_hash)


async def get_by_name(session: AsyncSession, user_principal_name: str) -> User | None:
    found = await get_for_sign_in(session, user_principal_name)
    return None if found is None else found[0]


async def get(session: AsyncSession, object_id: str) -> User | None:
    query = _joined().where(PrincipalRow.object_id == object_id.lower())
    row = (await session.execute(query)).first()
    return None if row is None else _user_of(row[0], row[1])


async def list_in_tenant(session: AsyncSession, tenant_id: str) -> list[User]:
    query = _joined().where(UserRow.tenant_id == tenant_id).order_by(UserRow.user_principal_name_key)
    return [_user_of(r[0], r[1]) for r in (await session.execute(query)).all()]
