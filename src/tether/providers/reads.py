"""Reading resources as every provider does: one by id (missing: the type's own NotFound), or a page.

A page under a subscription lists every resource of the type in it (ARM's subscription-wide list);
under any other scope, the scope's direct children of the type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tether.domain.ids import ResourceId
from tether.domain.resources import Resource
from tether.errors import NotFound
from tether.providers.base import Page, RequestContext
from tether.store import resources

Missing = Callable[[ResourceId], NotFound]


async def read_row(ctx: RequestContext, resource_id: ResourceId, *, missing: Missing) -> Resource:
    async with ctx.store.transaction() as session:
        row = await resources.get(session, resource_id)
    if row is None:
        raise missing(resource_id)
    return row


async def read_page(
    ctx: RequestContext,
    parent: ResourceId,
    full_type: str,
    *,
    offset: int,
    limit: int,
    render: Callable[[Resource], dict[str, Any]],
    parent_missing: Missing | None = None,
) -> Page:
    """One page of resources; ``parent_missing`` makes a missing parent a NotFound instead of an empty page."""
    async with ctx.store.transaction() as session:
        if parent_missing is not None and await resources.get(session, parent) is None:
            raise parent_missing(parent)
        if parent.resource_group is None and not parent.segments:
            rows = await resources.list_by_type(session, full_type, within=parent, offset=offset, limit=limit + 1)
        else:
            rows = await resources.list_children(session, parent, full_type, offset=offset, limit=limit + 1)
    return Page([render(r) for r in rows[:limit]], more=len(rows) > limit)
