"""The token service's signing keys, stored sealed (``private_pem`` holds a ``SecretBox`` token of the PEM;
sealing and unsealing happen in ``tether.identity.keys``, which holds the key that seals)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.store.tables import SigningKeyRow


async def list_all(session: AsyncSession) -> Sequence[SigningKeyRow]:
    return (await session.execute(select(SigningKeyRow).order_by(SigningKeyRow.created_at))).scalars().all()


async def add(session: AsyncSession, *, kid: str, sealed_pem: str) -> SigningKeyRow:
    row = SigningKeyRow(kid=kid, private_pem=sealed_pem, created_at=dt.datetime.now(dt.UTC), retired_at=None)
    session.add(row)
    await session.flush()
    return row


async def retire(session: AsyncSession, kid: str) -> None:
    row = await session.get(SigningKeyRow, kid)
    if row is not None and row.retired_at is None:
        row.retired_at = dt.datetime.now(dt.UTC)


async def drop(session: AsyncSession, kid: str) -> None:
    row = await session.get(SigningKeyRow, kid)
    if row is not None:
        await session.delete(row)
