"""Long-running operations and their leases.

A reconciler takes an operation with ``lease_next`` (a row whose lease is free or expired), or is
handed one its creator leased with ``take`` in the creating transaction, works on it outside any
transaction, then, in a new transaction, checks with ``held`` that its lease token still holds and
only then calls ``finish`` or ``retry_later``, so a reconciler that lost its lease cannot overwrite
another's result. Callers get ``Operation`` snapshots; every change goes through a function here.
While the work runs, ``renew`` extends the lease (a step may outlast one lease); it answers
False once the token no longer holds, and the step is then abandoned. An operation in flight when
the server stops (or its replica dies) is taken again once its lease expires.

Claiming is ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas sharing one database
never take the same row; on SQLite (one writer at a time) the clause is left out and the write lock
serialises the claims.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.domain.operations import Operation
from tether.domain.resources import Resource
from tether.domain.states import OperationKind, OperationStatus
from tether.store.tables import OperationRow


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _snapshot(row: OperationRow) -> Operation:
    return Operation(
        id=row.id,
        subscription_id=row.subscription_id,
        resource_key=row.resource_key,
        resource_type=row.resource_type,
        kind=OperationKind(row.kind),
        status=OperationStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        finished_at=row.finished_at,
        error=row.error,
        lease_token=row.lock_token,
    )


async def create(session: AsyncSession, resource: Resource, kind: OperationKind) -> Operation:
    """Record a new operation of ``kind`` on ``resource``, runnable at once."""
    now = _now()
    row = OperationRow(
        id=str(uuid.uuid4()),
        subscription_id=resource.subscription_id,
        resource_key=resource.key,
        resource_type=resource.type,
        kind=kind.value,
        status=OperationStatus.IN_PROGRESS.value,
        error=None,
        attempts=0,
        not_before=now,
        created_at=now,
        finished_at=None,
    )
    session.add(row)
    await session.flush()
    return _snapshot(row)


async def get(session: AsyncSession, operation_id: str) -> Operation | None:
    row = await session.get(OperationRow, operation_id)
    return _snapshot(row) if row is not None else None


async def in_progress_for(session: AsyncSession, resource_key: str) -> Sequence[Operation]:
    query = select(OperationRow).where(
        OperationRow.resource_key == resource_key, OperationRow.status == OperationStatus.IN_PROGRESS.value
    )
    return [_snapshot(row) for row in (await session.execute(query)).scalars().all()]


async def cancel_in_progress(session: AsyncSession, resource_key: str, *, reason: str) -> None:
    """Mark every running operation on a resource canceled (a delete supersedes a create)."""
    await session.execute(
        update(OperationRow)
        .where(
            OperationRow.resource_key == resource_key,
            OperationRow.status == OperationStatus.IN_PROGRESS.value,
        )
        .values(
            status=OperationStatus.CANCELED.value,
            error={"code": "Canceled", "message": reason},
            finished_at=_now(),
            lock_owner=None,
            lock_token=None,
            lock_expires_at=None,
        )
    )


async def lease_next(
    session: AsyncSession, *, resource_types: Sequence[str], owner: str, lease: dt.timedelta
) -> Operation | None:
    """Take the oldest runnable operation of the given types, or None. Returns it leased to ``owner``."""
    now = _now()
    query = (
        select(OperationRow)
        .where(
            OperationRow.status == OperationStatus.IN_PROGRESS.value,
            OperationRow.resource_type.in_(resource_types),
            OperationRow.not_before <= now,
            or_(OperationRow.lock_expires_at.is_(None), OperationRow.lock_expires_at < now),
        )
        .order_by(OperationRow.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        return None
    _lease(row, owner=owner, lease=lease)
    await session.flush()
    return _snapshot(row)


async def take(session: AsyncSession, operation_id: str, *, owner: str, lease: dt.timedelta) -> Operation:
    """Lease an operation to ``owner`` in the caller's transaction (a hand-off: one it just created); returns it
    leased."""
    row = await session.get(OperationRow, operation_id)  # just created: in the identity map, no query
    if row is None:
        raise LookupError(f"operation {operation_id} is not in this transaction")
    _lease(row, owner=owner, lease=lease)
    return _snapshot(row)


def _lease(row: OperationRow, *, owner: str, lease: dt.timedelta) -> None:
    row.lock_owner = owner
    row.lock_token = str(uuid.uuid4())
    row.lock_expires_at = _now() + lease
    row.attempts += 1


async def held(session: AsyncSession, operation_id: str, lock_token: str) -> Operation | None:
    """The operation, locked for update, if ``lock_token`` still holds its lease; else None."""
    query = (
        select(OperationRow)
        .where(
            OperationRow.id == operation_id,
            OperationRow.lock_token == lock_token,
            OperationRow.status == OperationStatus.IN_PROGRESS.value,
        )
        .with_for_update()
    )
    row = (await session.execute(query)).scalar_one_or_none()
    return _snapshot(row) if row is not None else None


async def renew(session: AsyncSession, operation_id: str, lock_token: str, *, lease: dt.timedelta) -> bool:
    """Extend the lease of ``lock_token`` to ``lease`` from now; False when that token no longer holds it."""
    result = await session.execute(
        update(OperationRow)
        .where(
            OperationRow.id == operation_id,
            OperationRow.lock_token == lock_token,
            OperationRow.status == OperationStatus.IN_PROGRESS.value,
        )
        .values(lock_expires_at=_now() + lease)
    )
    return bool(getattr(result, "rowcount", 0))


async def finish(
    session: AsyncSession, operation_id: str, status: OperationStatus, *, error: dict[str, Any] | None = None
) -> None:
    """End the operation (call after ``held`` in the same transaction, which locked it)."""
    row = await _locked(session, operation_id)
    row.status = status.value
    row.error = error
    row.finished_at = _now()
    row.lock_owner = row.lock_token = None
    row.lock_expires_at = None


async def retry_later(session: AsyncSession, operation_id: str, *, delay: dt.timedelta) -> None:
    """Release the lease and run the operation again after ``delay`` (after ``held``, like ``finish``)."""
    row = await _locked(session, operation_id)
    row.not_before = _now() + delay
    row.lock_owner = row.lock_token = None
    row.lock_expires_at = None


async def _locked(session: AsyncSession, operation_id: str) -> OperationRow:
    row = await session.get(OperationRow, operation_id)  # held() loaded and locked it: no query
    if row is None:
        raise LookupError(f"operation {operation_id} is gone")
    return row
