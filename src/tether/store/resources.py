"""Queries over the ``resources`` table: get, list, write, change state, delete.

Every provisioning-state change goes through ``set_state``, which checks the declared transition
table (``tether.domain.states``). Lookups use the lower-case key, so ids compare case-insensitively.
A type with a stored model (``tether.domain.models``) is read with ``read_properties`` and written whole
with ``insert(properties=model)`` or ``write_properties``: its JSON is never indexed outside the model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.domain.ids import ResourceId
from tether.domain.models.stored import StoredModel
from tether.domain.states import ProvisioningState, check_transition
from tether.store.tables import ResourceRow

Model = TypeVar("Model", bound=StoredModel)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parent_key(resource_id: ResourceId) -> str:
    parent = resource_id.parent
    return parent.key if parent is not None else ""


# Built once: building the expression per call costs as much as running it.
_BY_KEY_FOR_UPDATE = select(ResourceRow).where(ResourceRow.key == bindparam("key")).with_for_update()


async def get(session: AsyncSession, resource_id: ResourceId, *, for_update: bool = False) -> ResourceRow | None:
    return await get_by_key(session, resource_id.key, for_update=for_update)


async def get_by_key(session: AsyncSession, key: str, *, for_update: bool = False) -> ResourceRow | None:
    if for_update:
        return (await session.execute(_BY_KEY_FOR_UPDATE, {"key": key})).scalar_one_or_none()
    # A row this transaction already holds is answered without a query (the identity map).
    return await session.get(ResourceRow, key)


async def list_children(
    session: AsyncSession,
    parent: ResourceId,
    full_type: str,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> Sequence[ResourceRow]:
    """Direct children of ``parent`` of one type, in name order (stable paging)."""
    query = (
        select(ResourceRow)
        .where(ResourceRow.parent_key == parent.key, ResourceRow.type_key == full_type.lower())
        .order_by(ResourceRow.key)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return (await session.execute(query)).scalars().all()


async def list_by_type(
    session: AsyncSession, full_type: str, *, within: ResourceId, offset: int = 0, limit: int | None = None
) -> Sequence[ResourceRow]:
    """Every resource of one type anywhere under ``within`` (e.g. all workspaces of a subscription)."""
    query = (
        select(ResourceRow)
        .where(
            ResourceRow.type_key == full_type.lower(),
            ResourceRow.key.startswith(within.key + "/", autoescape=True),
        )
        .order_by(ResourceRow.key)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return (await session.execute(query)).scalars().all()


async def list_within(session: AsyncSession, scope: ResourceId) -> Sequence[ResourceRow]:
    """Every resource under ``scope`` (any type, any depth), in id order."""
    query = (
        select(ResourceRow)
        .where(ResourceRow.key.startswith(scope.key + "/", autoescape=True))
        .order_by(ResourceRow.key)
    )
    return (await session.execute(query)).scalars().all()


async def locations_in(session: AsyncSession, scope: ResourceId) -> set[str]:
    """The distinct locations of the resources under ``scope``."""
    query = (
        select(ResourceRow.location)
        .where(ResourceRow.key.startswith(scope.key + "/", autoescape=True), ResourceRow.location.is_not(None))
        .distinct()
    )
    return {str(v) for v in (await session.execute(query)).scalars().all()}


async def count_descendants(session: AsyncSession, resource_id: ResourceId) -> int:
    query = (
        select(func.count())
        .select_from(ResourceRow)
        .where(ResourceRow.key.startswith(resource_id.key + "/", autoescape=True))
    )
    return int((await session.execute(query)).scalar_one())


async def find_by_property(session: AsyncSession, full_type: str, *, name: str, value: str) -> Sequence[ResourceRow]:
    """Resources of a type whose top-level property ``name`` equals ``value`` (case-insensitive)."""
    rows = (await session.execute(select(ResourceRow).where(ResourceRow.type_key == full_type.lower()))).scalars()
    return [r for r in rows if str(r.properties.get(name, "")).lower() == value.lower()]


async def find_by_name(session: AsyncSession, full_type: str, name: str) -> Sequence[ResourceRow]:
    """Resources of a type with this name in any subscription (storage account names are global)."""
    query = select(ResourceRow).where(ResourceRow.type_key == full_type.lower(), ResourceRow.name == name)
    return (await session.execute(query.order_by(ResourceRow.key))).scalars().all()


async def insert(
    session: AsyncSession,
    resource_id: ResourceId,
    *,
    location: str | None,
    tags: dict[str, str],
    identity: dict[str, Any] | None,
    properties: dict[str, Any] | StoredModel,
    state: ProvisioningState,
    principal_id: str,
) -> ResourceRow:
    now = _now()
    if isinstance(properties, StoredModel):
        properties = properties.to_stored()
    row = ResourceRow(
        key=resource_id.key,
        id=str(resource_id),
        type=resource_id.full_type,
        type_key=resource_id.full_type.lower(),
        name=resource_id.name,
        subscription_id=resource_id.subscription_id,
        parent_key=_parent_key(resource_id),
        location=location,
        tags=tags,
        identity=identity,
        properties=properties,
        provisioning_state=state.value,
        created_at=now,
        created_by=principal_id,
        modified_at=now,
        modified_by=principal_id,
        version=1,
    )
    session.add(row)
    await session.flush()
    return row


def read_properties(row: ResourceRow, model: type[Model]) -> Model:
    """The row's ``properties`` as its type's stored model (validated: a row that does not fit is an error)."""
    return model.from_stored(row.properties)


def write_properties(row: ResourceRow, model: StoredModel) -> None:
    """Replace the row's ``properties`` with the model's stored JSON, whole (the column sees no in-place change)."""
    row.properties = model.to_stored()


def touch(row: ResourceRow, *, principal_id: str) -> None:
    """Record a modification of ``row`` by ``principal_id`` (call after changing its fields)."""
    row.modified_at = _now()
    row.modified_by = principal_id
    row.version += 1


def set_state(row: ResourceRow, state: ProvisioningState) -> None:
    """The one way a resource's provisioning state changes: checked against the transition table."""
    check_transition(ProvisioningState(row.provisioning_state), state, resource=row.id)
    row.provisioning_state = state.value
    row.modified_at = _now()


async def delete_tree_by_key(session: AsyncSession, key: str) -> int:
    """Delete a resource and every resource under it (children and extension resources)."""
    result = await session.execute(
        delete(ResourceRow).where(or_(ResourceRow.key == key, ResourceRow.key.startswith(key + "/", autoescape=True)))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def list_of_type_where(
    session: AsyncSession, full_type: str, *, property_name: str, values: Collection[str]
) -> Sequence[ResourceRow]:
    """Resources of a type whose top-level property ``property_name`` is one of ``values``.

    The filter runs in the database, so rows that do not match are never decoded (unfinished jobs
    among thousands of finished ones)."""
    value = ResourceRow.properties[property_name].as_string()
    query = select(ResourceRow).where(ResourceRow.type_key == full_type.lower(), value.in_(list(values)))
    return (await session.execute(query.order_by(ResourceRow.key))).scalars().all()


async def list_all_of_type(session: AsyncSession, full_type: str, *, for_update: bool = False) -> Sequence[ResourceRow]:
    query = select(ResourceRow).where(ResourceRow.type_key == full_type.lower()).order_by(ResourceRow.key)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalars().all()
