"""Role assignments: who holds which role at which scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tether.errors import Conflict
from tether.store.tables import RoleAssignmentRow


async def create(
    session: AsyncSession,
    *,
    assignment_id: str,
    name: str,
    subscription_id: str,
    scope: str,
    principal_id: str,
    principal_type: str,
    role_definition_guid: str,
    description: str | None,
    created_by: str,
) -> RoleAssignmentRow:
    """Insert an assignment; ``Conflict`` (RoleAssignmentExists) if the same grant already exists."""
    row = RoleAssignmentRow(
        id=assignment_id.lower(),
        name=name.lower(),
        display_id=assignment_id,
        subscription_id=subscription_id.lower(),
        scope_key=scope.lower(),
        scope=scope,
        principal_id=principal_id.lower(),
        principal_type=principal_type,
        role_definition_guid=role_definition_guid.lower(),
        description=description,
        created_at=dt.datetime.now(dt.UTC),
        created_by=created_by,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as e:
        raise Conflict("The role assignment already exists.", code="RoleAssignmentExists") from e
    return row


async def bulk_create(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert many assignments in one executemany (benchmarks and imports); no duplicate handling.

    Each mapping has ``create``'s keyword arguments; ids, keys and GUIDs are lower-cased as there.
    """
    now = dt.datetime.now(dt.UTC)
    values = [
        {
            "id": r["assignment_id"].lower(),
            "name": r["name"].lower(),
            "display_id": r["assignment_id"],
            "subscription_id": r["subscription_id"].lower(),
            "scope_key": r["scope"].lower(),
            "scope": r["scope"],
            "principal_id": r["principal_id"].lower(),
            "principal_type": r["principal_type"],
            "role_definition_guid": r["role_definition_guid"].lower(),
            "description": r.get("description"),
            "created_at": now,
            "created_by": r["created_by"],
        }
        for r in rows
    ]
    if values:
        await session.execute(insert(RoleAssignmentRow), values)
    return len(values)


async def get(session: AsyncSession, assignment_id: str) -> RoleAssignmentRow | None:
    return await session.get(RoleAssignmentRow, assignment_id.lower())


async def find_grant(
    session: AsyncSession, *, scope_key: str, principal_id: str, role_definition_guid: str
) -> RoleAssignmentRow | None:
    query = select(RoleAssignmentRow).where(
        RoleAssignmentRow.scope_key == scope_key,
        RoleAssignmentRow.principal_id == principal_id.lower(),
        RoleAssignmentRow.role_definition_guid == role_definition_guid.lower(),
    )
    return (await session.execute(query)).scalar_one_or_none()


async def for_principal(session: AsyncSession, principal_id: str) -> Sequence[RoleAssignmentRow]:
    query = select(RoleAssignmentRow).where(RoleAssignmentRow.principal_id == principal_id.lower())
    return (await session.execute(query)).scalars().all()


async def at_or_above(session: AsyncSession, scope_keys: Sequence[str]) -> Sequence[RoleAssignmentRow]:
    """Assignments at any of the given scopes (a scope and its ancestors)."""
    query = select(RoleAssignmentRow).where(RoleAssignmentRow.scope_key.in_(list(scope_keys)))
    return (await session.execute(query.order_by(RoleAssignmentRow.scope_key))).scalars().all()


async def within(session: AsyncSession, scope_key: str) -> Sequence[RoleAssignmentRow]:
    """Assignments at a scope or anywhere under it."""
    query = select(RoleAssignmentRow).where(
        or_(
            RoleAssignmentRow.scope_key == scope_key,
            RoleAssignmentRow.scope_key.startswith(scope_key + "/", autoescape=True),
        )
    )
    return (await session.execute(query.order_by(RoleAssignmentRow.scope_key))).scalars().all()


async def delete_row(session: AsyncSession, row: RoleAssignmentRow) -> None:
    await session.delete(row)


async def delete_for_principal(session: AsyncSession, principal_id: str) -> int:
    result = await session.execute(
        delete(RoleAssignmentRow).where(RoleAssignmentRow.principal_id == principal_id.lower())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_within(session: AsyncSession, scope_key: str) -> int:
    """Remove assignments at a scope or under it (the scope's resources are being deleted)."""
    result = await session.execute(
        delete(RoleAssignmentRow).where(
            or_(
                RoleAssignmentRow.scope_key == scope_key,
                RoleAssignmentRow.scope_key.startswith(scope_key + "/", autoescape=True),
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
