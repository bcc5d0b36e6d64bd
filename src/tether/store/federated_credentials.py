"""Federated identity credentials, and the CA bundles used to reach their issuers.

Functions return ``FederatedCredential`` models, never rows; changes go through ``upsert`` and ``delete``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.domain.federated_credentials import FederatedCredential
from tether.errors import Conflict
from tether.store.tables import FederatedCredentialRow, ResourceRow, TrustedIssuerRow


def _credential_of(row: FederatedCredentialRow) -> FederatedCredential:
    return FederatedCredential(
        id=row.id,
        principal_id=row.principal_id,
        resource_key=row.resource_key,
        name=row.name,
        issuer=row.issuer,
        subject=row.subject,
        audiences=tuple(row.audiences),
        created_at=row.created_at,
    )


async def upsert(
    session: AsyncSession,
    *,
    principal_id: str,
    name: str,
    issuer: str,
    subject: str,
    audiences: list[str],
    resource_key: str | None = None,
) -> tuple[FederatedCredential, bool]:
    """Create or replace the credential ``name`` of a principal; returns it and whether it was created."""
    row = await _get_row(session, principal_id, name)
    created = row is None
    if row is None:
        row = FederatedCredentialRow(
            id=str(uuid.uuid4()),
            principal_id=principal_id,
            name=name,
            resource_key=resource_key,
            created_at=dt.datetime.now(dt.UTC),
            issuer=issuer,
            subject=subject,
            audiences=audiences,
        )
        session.add(row)
    elif (row.issuer, row.subject, list(row.audiences)) != (issuer, subject, list(audiences)):
        row.issuer, row.subject, row.audiences = issuer, subject, audiences
    else:
        return _credential_of(row), False  # unchanged: no write (every dispatch of a compute's jobs comes here)
    await session.flush()
    return _credential_of(row), created


async def _get_row(session: AsyncSession, principal_id: str, name: str) -> FederatedCredentialRow | None:
    query = select(FederatedCredentialRow).where(
        FederatedCredentialRow.principal_id == principal_id, FederatedCredentialRow.name == name
    )
    return (await session.execute(query)).scalar_one_or_none()


async def get(session: AsyncSession, principal_id: str, name: str) -> FederatedCredential | None:
    row = await _get_row(session, principal_id, name)
    return None if row is None else _credential_of(row)


async def for_principal(session: AsyncSession, principal_id: str) -> list[FederatedCredential]:
    query = select(FederatedCredentialRow).where(FederatedCredentialRow.principal_id == principal_id)
    return [_credential_of(r) for r in (await session.execute(query.order_by(FederatedCredentialRow.name))).scalars()]


async def delete(session: AsyncSession, principal_id: str, name: str) -> bool:
    """Delete the credential ``name`` of a principal; False when it has none by that name."""
    row = await _get_row(session, principal_id, name)
    if row is None:
        return False
    await session.delete(row)
    await session.flush()  # now: a later get in this transaction must not find it
    return True


async def trust_issuer(session: AsyncSession, *, tenant_id: str, issuer: str, ca_pem: str, source: str) -> None:
    """Record the CA bundle that verifies ``issuer``'s TLS certificate, for one tenant only.

    The trust is bound to the resource that registered it (``source``: a cluster or a federated
    credential): only that resource may change the CA later. Another resource naming the same issuer
    with another CA is refused (``Conflict``) while the first still exists, so a connected cluster
    cannot redirect the tenant's trust for an issuer it does not serve ("last one written wins" was
    the hole). Naming it with the same CA changes nothing and is allowed."""
    row = await session.get(TrustedIssuerRow, (tenant_id, issuer))
    if row is None:
        session.add(
            TrustedIssuerRow(
                tenant_id=tenant_id, issuer=issuer, ca_pem=ca_pem, source=source, created_at=dt.datetime.now(dt.UTC)
            )
        )
    elif row.source.lower() == source.lower() or row.ca_pem == ca_pem:
        row.ca_pem = ca_pem
    elif await _source_exists(session, row.source):
        raise Conflict(
            f"The issuer '{issuer}' is already trusted with another CA, registered by '{row.source}'. "
            "Only that resource may change it; delete it first, or use the CA it registered.",
            code="IssuerAlreadyTrusted",
        )
    else:  # the resource that registered it is gone: the binding passes to the new one
        row.ca_pem, row.source = ca_pem, source
    await session.flush()


async def _source_exists(session: AsyncSession, source: str) -> bool:
    key = source.lower()
    if (await session.execute(select(ResourceRow.key).where(ResourceRow.key == key))).first() is not None:
        return True
    query = select(FederatedCredentialRow.id).where(FederatedCredentialRow.resource_key == key)
    return (await session.execute(query)).first() is not None


async def issuer_ca(session: AsyncSession, *, tenant_id: str, issuer: str) -> str | None:
    row = await session.get(TrustedIssuerRow, (tenant_id, issuer))
    return row.ca_pem if row else None


async def exists(session: AsyncSession, *, resource_key: str) -> bool:
    query = select(FederatedCredentialRow.id).where(FederatedCredentialRow.resource_key == resource_key)
    return (await session.execute(query)).first() is not None
