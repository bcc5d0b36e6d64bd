"""One conditional write at a time per resource: the compare-and-set behind ``If-Match`` / ``If-None-Match``.

A PUT or DELETE with a precondition first ``claim``s the resource (an atomic insert-or-take-over of its
row here: of two concurrent claimants exactly one gets it), then checks the ETag, writes, and ``release``s.
So two requests sent with the same ``If-Match`` cannot both pass the check before either writes: the
second is refused while the first runs, or finds the new ETag after it. Hazards: writes without a
precondition do not claim, so they are not ordered against a conditional one (as ARM promises nothing
for them either); a claim left by a dead server is taken over once older than ``stale_after``.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tether.store.tables import WriteClaimRow


async def claim(session: AsyncSession, *, resource_key: str, stale_after: dt.timedelta) -> str | None:
    """A token for the resource's claim, or None while another (fresh) claim holds it."""
    now = dt.datetime.now(dt.UTC)
    token = secrets.token_hex(16)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(WriteClaimRow).values(resource_key=resource_key, token=token, claimed_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["resource_key"],
        set_={"token": statement.excluded.token, "claimed_at": statement.excluded.claimed_at},
        where=WriteClaimRow.claimed_at < now - stale_after,
    )
    result = await session.execute(statement)
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def release(session: AsyncSession, *, resource_key: str, token: str) -> None:
    await session.execute(
        delete(WriteClaimRow).where(WriteClaimRow.resource_key == resource_key, WriteClaimRow.token == token)
    )
