"""HTTP conditional requests on ARM resources: ``If-Match`` and ``If-None-Match`` on PUT and DELETE.

Every tracked resource's body carries ``etag`` (``tether.providers.envelope.etag_of``) and GET
answers it as the ``ETag`` header. A PUT or DELETE with ``If-Match: <etag>`` proceeds only if the
resource exists with that ETag (``*``: exists at all); ``If-None-Match: *`` only if it does not exist
(create, never overwrite). Otherwise 412 ``PreconditionFailed``, with nothing changed.

Hazard: the check reads the resource just before the write, in its own transaction; two writers
racing between check and write are not serialized by it (the providers' own state checks still are).
"""

from __future__ import annotations

from fastapi import Request

from tether.domain.ids import ResourceId
from tether.errors import NotFound, PreconditionFailed
from tether.providers.base import RequestContext, ResourceProvider


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
