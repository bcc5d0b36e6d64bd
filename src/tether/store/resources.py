"""Queries over the ``resources`` table: get, list, insert, update, delete; snapshots out, never rows.

Every read returns ``tether.domain.resources.Resource`` snapshots built from Core selects of the
table's columns (no ORM entity loading: cheaper, and nothing outside the store holds a live row). A
change is ``update``: one UPDATE ... RETURNING that answers the new snapshot; the caller rebinds its
variable, because the snapshot it passed is stale from then on. Every provisioning-state change goes
through ``update(state=...)``, which checks the declared transition table (``tether.domain.states``)
against the snapshot given: pass the latest one. Lookups use the lower-case key, so ids compare
case-insensitively. A type with a stored model (``tether.domain.models``) is read with
``read_properties`` and written whole with ``insert(properties=model)`` or ``update(properties=model)``:
its JSON is never indexed outside the model. See docs/decisions/0025-resources-as-snapshots.md.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Sequence
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, func, or_, select
from sqlalchemy import insert as sql_insert
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.domain.ids import ResourceId
from tether.domain.models.stored import StoredModel
from tether.domain.resources import Resource
from tether.domain.states import ProvisioningState, check_transition
from tether.errors import Conflict
from tether.store.tables import ResourceRow

Model = TypeVar("Model", bound=StoredModel)

_TABLE = cast(Table, ResourceRow.__table__)
_COLUMNS = tuple(_TABLE.c[name] for name in Resource.__slots__)


class _Keep(enum.Enum):
    """``identity`` may be set to None, so "leave it as it is" needs a value of its own."""

    KEEP = enum.auto()


KEEP = _Keep.KEEP


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parent_key(resource_id: ResourceId) -> str:
    parent = resource_id.parent
    return parent.key if parent is not None else ""


async def _all(session: AsyncSession, query: Any) -> list[Resource]:
    return [Resource(*row) for row in await session.execute(query)]


# Built once: building the expression per call costs as much as running it (the API GET hot path).
_BY_KEY = select(*_COLUMNS).where(_TABLE.c.key == bindparam("key"))
_BY_KEY_FOR_UPDATE = _BY_KEY.with_for_update()


async def get(session: AsyncSession, resource_id: ResourceId, *, for_update: bool = False) -> Resource | None:
    return await get_by_key(session, resource_id.key, for_update=for_update)


async def get_by_key(session: AsyncSession, key: str, *, for_update: bool = False) -> Resource | None:
    """One statement; ``for_update`` locks the row until the transaction ends (PostgreSQL)."""
    row = (await session.execute(_BY_KEY_FOR_UPDATE if for_update else _BY_KEY, {"key": key})).first()
    return Resource(*row) if row is not None else None


async def list_children(
    session: AsyncSession,
    parent: ResourceId,
    full_type: str,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> Sequence[Resource]:
    """Direct children of ``parent`` of one type, in name order (stable paging)."""
    query = (
        select(*_COLUMNS)
        .where(_TABLE.c.parent_key == parent.key, _TABLE.c.type_key == full_type.lower())
        .order_by(_TABLE.c.key)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return await _all(session, query)


async def list_by_type(
    session: AsyncSession, full_type: str, *, within: ResourceId, offset: int = 0, limit: int | None = None
) -> Sequence[Resource]:
    """Every resource of one type anywhere under ``within`` (e.g. all workspaces of a subscription)."""
    query = (
        select(*_COLUMNS)
        .where(
            _TABLE.c.type_key == full_type.lower(),
            _TABLE.c.key.startswith(within.key + "/", autoescape=True),
        )
        .order_by(_TABLE.c.key)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return await _all(session, query)


async def list_within(session: AsyncSession, scope: ResourceId) -> Sequence[Resource]:
    """Every resource under ``scope`` (any type, any depth), in id order."""
    query = select(*_COLUMNS).where(_TABLE.c.key.startswith(scope.key + "/", autoescape=True)).order_by(_TABLE.c.key)
    return await _all(session, query)


async def locations_in(session: AsyncSession, scope: ResourceId) -> set[str]:
    """The distinct locations of the resources under ``scope``."""
    query = (
        select(_TABLE.c.location)
        .where(_TABLE.c.key.startswith(scope.key + "/", autoescape=True), _TABLE.c.location.is_not(None))
        .distinct()
    )
    return {str(v) for v in (await session.execute(query)).scalars().all()}


async def count_descendants(session: AsyncSession, resource_id: ResourceId) -> int:
    query = (
        select(func.count()).select_from(_TABLE).where(_TABLE.c.key.startswith(resource_id.key + "/", autoescape=True))
    )
    return int((await session.execute(query)).scalar_one())


async def find_by_property(session: AsyncSession, full_type: str, *, name: str, value: str) -> Sequence[Resource]:
    """Resources of a type whose top-level property ``name`` equals ``value`` (case-insensitive)."""
    rows = await _all(session, select(*_COLUMNS).where(_TABLE.c.type_key == full_type.lower()))
    return [r for r in rows if str(r.properties.get(name, "")).lower() == value.lower()]


async def find_by_name(session: AsyncSession, full_type: str, name: str) -> Sequence[Resource]:
    """Resources of a type with this name in any subscription (storage account names are global)."""
    query = select(*_COLUMNS).where(_TABLE.c.type_key == full_type.lower(), _TABLE.c.name == name)
    return await _all(session, query.order_by(_TABLE.c.key))


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
) -> Resource:
    now = _now()
    if isinstance(properties, StoredModel):
        properties = properties.to_stored()
    resource = Resource(
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
    await session.execute(sql_insert(_TABLE).values({name: getattr(resource, name) for name in Resource.__slots__}))
    return resource


def read_properties(resource: Resource, model: type[Model]) -> Model:
    """The resource's ``properties`` as its type's stored model (validated: one that does not fit is an error)."""
    return model.from_stored(resource.properties)


async def update(
    session: AsyncSession,
    resource: Resource,
    *,
    tags: dict[str, Any] | None = None,
    identity: dict[str, Any] | Literal[_Keep.KEEP] | None = KEEP,
    properties: dict[str, Any] | StoredModel | None = None,
    state: ProvisioningState | None = None,
    principal_id: str | None = None,
) -> Resource:
    """Write the given changes of ``resource`` in one UPDATE and return the new snapshot.

    ``properties`` replaces the stored JSON whole (a model is written as its stored form). ``state``
    is checked against the transition table from ``resource``'s state and sets ``modified_at``.
    ``principal_id`` records a modification by that principal: ``modified_at``/``modified_by`` and a
    new ``version``. Without ``state`` or ``principal_id`` only the fields are written (a reconciler
    recording what it observed is not a modification of the resource).
    """
    values: dict[str, Any] = {}
    if tags is not None:
        values["tags"] = tags
    if identity is not KEEP:
        values["identity"] = identity
    if properties is not None:
        values["properties"] = properties.to_stored() if isinstance(properties, StoredModel) else properties
    if state is not None:
        check_transition(ProvisioningState(resource.provisioning_state), state, resource=resource.id)
        values["provisioning_state"] = state.value
        values["modified_at"] = _now()
    if principal_id is not None:
        values["modified_at"] = _now()
        values["modified_by"] = principal_id
        values["version"] = _TABLE.c.version + 1
    if not values:
        return resource
    query = sql_update(_TABLE).where(_TABLE.c.key == resource.key).values(values).returning(*_COLUMNS)
    row = (await session.execute(query)).first()
    if row is None:
        # Deleted since it was read (by this transaction, or by another one when it was read without
        # for_update): a race the caller answers as a conflict, never a server error.
        raise Conflict(
            f"The resource {resource.id} was deleted while this request changed it; read it again and retry.",
            code="ResourceDeleted",
        )
    return Resource(*row)


async def delete_tree_by_key(session: AsyncSession, key: str) -> int:
    """Delete a resource and every resource under it (children and extension resources)."""
    result = await session.execute(
        delete(_TABLE).where(or_(_TABLE.c.key == key, _TABLE.c.key.startswith(key + "/", autoescape=True)))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def list_of_type_where(
    session: AsyncSession, full_type: str, *, property_name: str, values: Collection[str]
) -> Sequence[Resource]:
    """Resources of a type whose top-level property ``property_name`` is one of ``values``.

    The filter runs in the database, so rows that do not match are never decoded (unfinished jobs
    among thousands of finished ones)."""
    value = _TABLE.c.properties[property_name].as_string()
    query = select(*_COLUMNS).where(_TABLE.c.type_key == full_type.lower(), value.in_(list(values)))
    return await _all(session, query.order_by(_TABLE.c.key))


async def list_all_of_type(session: AsyncSession, full_type: str, *, for_update: bool = False) -> Sequence[Resource]:
    query = select(*_COLUMNS).where(_TABLE.c.type_key == full_type.lower()).order_by(_TABLE.c.key)
    if for_update:
        query = query.with_for_update()
    return await _all(session, query)
