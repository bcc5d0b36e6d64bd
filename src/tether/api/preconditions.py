"""HTTP conditional requests on ARM resources: ``If-Match`` and ``If-None-Match`` on PUT and DELETE.

Every tracked resource's body carries ``etag`` (``tether.providers.envelope.etag_of``) and GET
answers it as the ``ETag`` header. A PUT or DELETE with ``If-Match: <etag>`` proceeds only if the
resource exists with that ETag (``*``: exists at all); ``If-None-Match: *`` only if it does not exist
(create, never overwrite). Otherwise 412 ``PreconditionFailed``, with nothing changed.

Check and write are one compare-and-set: ``guarded`` claims the resource in the store
(``store.write_claims``) before it checks, and releases it after the write, so of several requests sent
with the same ``If-Match`` at once exactly one writes; the others get 412 (refused while it runs, or
finding its new ETag). Hazard: writes without a precondition take no claim and are not ordered
against a conditional one in progress.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request

from tether.domain.ids import ResourceId
from tether.errors import NotFound, PreconditionFailed
from tether.providers.base import RequestContext, ResourceProvider
from tether.store import write_claims

#: A claim older than this was left by a server that died mid-write; the next conditional request takes it.
_STALE_CLAIM = dt.timedelta(seconds=60)


@asynccontextmanager
async def guarded(
    request: Request, provider: ResourceProvider, ctx: RequestContext, resource_id: ResourceId
) -> AsyncIterator[None]:
    """Run the block (the write) only if the preconditions hold, with no other conditional write in between."""
    if request.headers.get("if-match") is None and request.headers.get("if-none-match") is None:
        yield
        return
    async with ctx.store.transaction() as session:
        token = await write_claims.claim(session, resource_key=resource_id.key, stale_after=_STALE_CLAIM)
    if token is None:
        raise PreconditionFailed(
            "Another conditional request is changing this resource at this moment, so its ETag is about to "
            "change. GET it again and retry with its new etag."
        )
    try:
        await check(request, provider, ctx, resource_id)
        yield
    finally:
        async with ctx.store.transaction() as session:
            await write_claims.release(session, resource_key=resource_id.key, token=token)


async def check(request: Request, provider: ResourceProvider, ctx: RequestContext, resource_id: ResourceId) -> None:
    """Raise ``PreconditionFailed`` unless the request's If-Match / If-None-Match hold (no headers: no read)."""
    if_match = request.headers.get("if-match")
    if_none_match = request.headers.get("if-none-match")
    if if_match is None and if_none_match is None:
        return
    current = await _current_etag(provider, ctx, resource_id)
    if if_match is not None:
        wanted = _tags(if_match)
        if current is None or ("*" not in wanted and current not in wanted):
            now = "does not exist" if current is None else f"has ETag {current}"
            raise PreconditionFailed(
                f"If-Match '{if_match}' does not hold: the resource {now}. GET it again and retry with its etag."
            )
    if if_none_match is not None and current is not None:
        wanted = _tags(if_none_match)
        if "*" in wanted or current in wanted:
            raise PreconditionFailed(
                f"If-None-Match '{if_none_match}' does not hold: the resource already exists (ETag {current}). "
                "Leave out If-None-Match to update it.",
            )


async def _current_etag(provider: ResourceProvider, ctx: RequestContext, resource_id: ResourceId) -> str | None:
    try:
        body = await provider.get(ctx, resource_id)
    except NotFound:
        return None
    etag = body.get("etag")
    return str(etag) if etag is not None else '""'


def _tags(header: str) -> set[str]:
    """The entity tags of an If-Match / If-None-Match header; weak tags compare by their opaque part."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
