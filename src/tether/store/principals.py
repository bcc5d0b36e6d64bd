"""Principals (service principals, managed identities) and their client secrets.

Functions return ``Principal`` and ``ClientSecret`` models, never rows; changes go through the functions
here. Secrets are stored as salted scrypt hashes; the clear text exists only in the answer that creates
it, and the hashes leave this module only for the token endpoint's check (``active_secret_hashes``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.crypto import hash_secret
from tether.domain.principals import ClientSecret, Principal, PrincipalKind
from tether.store.tables import ClientSecretRow, PrincipalRow


def principal_of(row: PrincipalRow) -> Principal:
    return Principal(
        object_id=row.object_id,
        tenant_id=row.tenant_id,
        kind=PrincipalKind(row.kind),
        app_id=row.app_id,
        display_name=row.display_name,
        resource_key=row.resource_key,
        created_at=row.created_at,
    )


def _secret_of(row: ClientSecretRow) -> ClientSecret:
    return ClientSecret(
        key_id=row.id,
        principal_id=row.principal_id,
        hint=row.hint,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


async def create(
    session: AsyncSession,
    *,
    tenant_id: str,
    kind: PrincipalKind | str,
    display_name: str,
    resource_key: str | None = None,
) -> Principal:
    row = PrincipalRow(
        object_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        kind=PrincipalKind(kind).value,
        app_id=str(uuid.uuid4()),
        display_name=display_name,
        display_name_key=display_name.lower(),
        resource_key=resource_key,
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(row)
    await session.flush()
    return principal_of(row)


async def get(session: AsyncSession, object_id: str) -> Principal | None:
    row = await session.get(PrincipalRow, object_id.lower())
    return None if row is None else principal_of(row)


async def get_by_app_id(session: AsyncSession, tenant_id: str, app_id: str) -> Principal | None:
    query = select(PrincipalRow).where(PrincipalRow.tenant_id == tenant_id, PrincipalRow.app_id == app_id.lower())
    row = (await session.execute(query)).scalar_one_or_none()
    return None if row is None else principal_of(row)


async def find(session: AsyncSession, tenant_id: str, text: str) -> list[Principal]:
    """Principals whose object id, app id or display name (case-insensitive) is ``text``."""
    key = text.lower()
    query = select(PrincipalRow).where(
        PrincipalRow.tenant_id == tenant_id,
        or_(PrincipalRow.object_id == key, PrincipalRow.app_id == key, PrincipalRow.display_name_key == key),
    )
    return [principal_of(r) for r in (await session.execute(query)).scalars()]


async def get_by_resource(session: AsyncSession, resource_key: str) -> Principal | None:
    query = select(PrincipalRow).where(PrincipalRow.resource_key == resource_key)
    row = (await session.execute(query)).scalars().first()
    return None if row is None else principal_of(row)


async def rename(session: AsyncSession, object_id: str, *, display_name: str) -> Principal | None:
    """Change a principal's display name; None when there is no such principal."""
    row = await session.get(PrincipalRow, object_id.lower())
    if row is None:
        return None
    row.display_name, row.display_name_key = display_name, display_name.lower()
    await session.flush()
    return principal_of(row)


async def delete(session: AsyncSession, object_id: str) -> bool:
    """Delete a principal (its secrets and federated credentials go with it); False when there is none."""
    row = await session.get(PrincipalRow, object_id.lower())  # through the session: it tracks the deletion
    if row is None:
        return False
    await session.delete(row)
    await session.flush()  # now: a later get in this transaction must not find it
    return True


async def add_secret(session: AsyncSession, principal_id: str, *, lifetime: dt.timedelta) -> str:
    """Create a client secret and return its clear text (shown once, never stored)."""
    _secret, text = await add_password_credential(session, principal_id, lifetime=lifetime)
    return text


async def add_password_credential(
    session: AsyncSession, principal_id: str, *, lifetime: dt.timedelta
) -> tuple[ClientSecret, str]:
    """Create a client secret; returns its metadata and its clear text (shown once)."""
    text = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    row = ClientSecretRow(
        id=str(uuid.uuid4()),
        principal_id=principal_id,
        secret_hash=hash_secret(text),
        hint=text[:3],
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return _secret_of(row), text


async def list_secrets(session: AsyncSession, principal_id: str) -> list[ClientSecret]:
    query = select(ClientSecretRow).where(ClientSecretRow.principal_id == principal_id).order_by(ClientSecretRow.id)
    return [_secret_of(r) for r in (await session.execute(query)).scalars()]


async def delete_secret(session: AsyncSession, principal_id: str, key_id: str) -> bool:
    """Delete one client secret of a principal; False when it has none with that id."""
    row = await session.get(ClientSecretRow, key_id.lower())
    if row is None or row.principal_id != principal_id:
        return False
    await session.delete(row)
    await session.flush()  # now: a later get in this transaction must not find it
    return True


async def active_secret_hashes(session: AsyncSession, principal_id: str) -> list[str]:
    """The hashes of the principal's unexpired secrets (checked by the caller, after the transaction:
    a check is ~80 ms of scrypt, ``tether.identity.secret_checks``)."""
    now = dt.datetime.now(dt.UTC)
    query = select(ClientSecretRow.secret_hash).where(
        ClientSecretRow.principal_id == principal_id, ClientSecretRow.expires_at > now
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


async def list_in_tenant(session: AsyncSession, tenant_id: str) -> list[Principal]:
    query = select(PrincipalRow).where(PrincipalRow.tenant_id == tenant_id).order_by(PrincipalRow.display_name_key)
    return [principal_of(r) for r in (await session.execute(query)).scalars()]
