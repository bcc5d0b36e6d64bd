"""Principals (service principals, managed identities) and their client secrets.

Secrets are stored as salted scrypt hashes; the clear text exists only in the answer that creates it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.crypto import hash_secret
from tether.store.tables import ClientSecretRow, PrincipalRow


async def create(
    session: AsyncSession,
    *,
    tenant_id: str,
    kind: str,
    display_name: str,
    resource_key: str | None = None,
) -> PrincipalRow:
    row = PrincipalRow(
        object_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        kind=kind,
        app_id=str(uuid.uuid4()),
        display_name=display_name,
        display_name_key=display_name.lower(),
        resource_key=resource_key,
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, object_id: str) -> PrincipalRow | None:
    return await session.get(PrincipalRow, object_id.lower())


async def get_by_app_id(session: AsyncSession, tenant_id: str, app_id: str) -> PrincipalRow | None:
    query = select(PrincipalRow).where(PrincipalRow.tenant_id == tenant_id, PrincipalRow.app_id == app_id.lower())
    return (await session.execute(query)).scalar_one_or_none()


async def find(session: AsyncSession, tenant_id: str, text: str) -> Sequence[PrincipalRow]:
    """Principals whose object id, app id or display name (case-insensitive) is ``text``."""
    key = text.lower()
    query = select(PrincipalRow).where(
        PrincipalRow.tenant_id == tenant_id,
        or_(PrincipalRow.object_id == key, PrincipalRow.app_id == key, PrincipalRow.display_name_key == key),
    )
    return (await session.execute(query)).scalars().all()


async def get_by_resource(session: AsyncSession, resource_key: str) -> PrincipalRow | None:
    query = select(PrincipalRow).where(PrincipalRow.resource_key == resource_key)
    return (await session.execute(query)).scalars().first()


async def delete(session: AsyncSession, row: PrincipalRow) -> None:
    await session.delete(row)


async def add_secret(session: AsyncSession, principal: PrincipalRow, *, lifetime: dt.timedelta) -> str:
    """Create a client secret and return its clear text (shown once, never stored)."""
    _row, secret = await add_password_credential(session, principal, lifetime=lifetime)
    return secret


async def add_password_credential(
    session: AsyncSession, principal: PrincipalRow, *, lifetime: dt.timedelta
) -> tuple[ClientSecretRow, str]:
    """Create a client secret; returns its row (``id`` is Graph's ``keyId``) and clear text (shown once)."""
    secret = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    row = ClientSecretRow(
        id=str(uuid.uuid4()),
        principal_id=principal.object_id,
        secret_hash=hash_secret(secret),
        hint=secret[:3],
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def list_secrets(session: AsyncSession, principal_id: str) -> Sequence[ClientSecretRow]:
    query = select(ClientSecretRow).where(ClientSecretRow.principal_id == principal_id).order_by(ClientSecretRow.id)
    return (await session.execute(query)).scalars().all()


async def delete_secret(session: AsyncSession, principal_id: str, key_id: str) -> bool:
    """Delete one client secret of a principal; False when it has none with that id."""
    row = await session.get(ClientSecretRow, key_id.lower())
    if row is None or row.principal_id != principal_id:
        return False
    await session.delete(row)
    return True


async def active_secret_hashes(session: AsyncSession, principal: PrincipalRow) -> list[str]:
    """The hashes of the principal's unexpired secrets (checked by the caller, after the transaction:
    a check is ~80 ms of scrypt, ``tether.identity.secret_checks``)."""
    now = dt.datetime.now(dt.UTC)
    query = select(ClientSecretRow.secret_hash).where(
        ClientSecretRow.principal_id == principal.object_id, ClientSecretRow.expires_at > now
    )
    return list((await session.execute(query)).scalars().all())


async def delete_owned_within(session: AsyncSession, resource_key: str) -> list[str]:
    """Delete the managed identities (system- and user-assigned) of a resource and of everything under it;
    returns their object ids."""
    query = select(PrincipalRow).where(
        PrincipalRow.resource_key.is_not(None),
        or_(
            PrincipalRow.resource_key == resource_key,
            PrincipalRow.resource_key.startswith(resource_key + "/", autoescape=True),
        ),
    )
    rows = (await session.execute(query)).scalars().all()
    for row in rows:
        await session.delete(row)
    return [r.object_id for r in rows]


async def list_in_tenant(session: AsyncSession, tenant_id: str) -> Sequence[PrincipalRow]:
    query = select(PrincipalRow).where(PrincipalRow.tenant_id == tenant_id).order_by(PrincipalRow.display_name_key)
    return (await session.execute(query)).scalars().all()
