"""PATCH on any tracked resource: ARM's partial update, as az's ``update`` commands send it.

Most az ``update`` commands (``az identity update --tags``, ``az resource tag``...) GET the resource,
change it, and PATCH back the whole object. So a PATCH body may repeat every field the resource
already has; what it may *change* here is ``tags`` (replaced as a whole, as ARM does). A field that
would change anything else (location, identity, properties) is refused with the PUT to use instead,
and nothing is written: a silently ignored change is worse than an error. Fields that equal the
current value, and read-only ones (``id``, ``name``, ``type``, ``systemData``, ``etag``,
``provisioningState``), pass.

Hazard: comparison is against the resource as GET answers it, so a field GET hides (a secret) can
never be "unchanged"; such fields are refused too, which is what PATCH should do with secrets.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from tether.domain.ids import ResourceId
from tether.domain.states import ProvisioningState
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.protocol.arm import StrictModel
from tether.protocol.partial_updates import changed_properties, has_properties_object
from tether.providers.base import RequestContext
from tether.store import resources

_READ_ONLY = {"id", "name", "type", "systemdata", "etag"}
_READ_ONLY_PROPERTIES = {"provisioningstate"}


class _Tags(StrictModel):
    tags: dict[str, str] = Field(max_length=50)


def _same_location(given: Any, present: Any) -> bool:
    return isinstance(given, str) and isinstance(present, str) and given.replace(" ", "").lower() == present.lower()


def _changed_fields(body: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted names of fields in ``body`` (other than tags) whose values differ from ``current``."""
    changed: list[str] = []
    for key, value in body.items():
        if key == "tags" or key.lower() in _READ_ONLY:
            continue
        if key == "location" and _same_location(value, current.get("location")):
            continue
        if key == "properties" and isinstance(value, dict) and has_properties_object(current):
            changed += changed_properties(body, current, ignored=lambda name: name.lower() in _READ_ONLY_PROPERTIES)
            continue
        if current.get(key) != value and not (value in ({}, None) and current.get(key) in ({}, None)):
            changed.append(key)
    return changed


async def patch_tags(ctx: RequestContext, resource_id: ResourceId, body: Any, *, current: dict[str, Any]) -> None:
    """Apply a PATCH whose only change is ``tags``; ``current`` is the resource as GET answers it."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="InvalidRequestContent")
    changed = _changed_fields(body, current)
    if changed:
        raise InvalidRequest(
            f"PATCH on {resource_id.full_type} changes only 'tags'; this request also changes "
            f"{', '.join(repr(c) for c in changed)}. Send the whole resource with PUT to change those.",
            code="InvalidRequestContent",
            target=changed[0],
        )
    if "tags" not in body:
        return
    try:
        tags = _Tags.model_validate({"tags": body["tags"] if body["tags"] is not None else {}}).tags
    except ValidationError as e:
        raise InvalidRequest(
            "tags must be an object of at most 50 string names and string values.", code="InvalidTag"
        ) from e
    async with ctx.store.transaction() as session:
        row = await resources.get(session, resource_id, for_update=True)
        if row is None:
            raise NotFound(f"The resource '{resource_id}' was not found.", code="ResourceNotFound")
        if row.provisioning_state == ProvisioningState.DELETING:
            raise Conflict(f"'{row.name}' is being deleted; it cannot be changed.", code="ConflictingOperation")
        await resources.update(session, row, tags=tags, principal_id=ctx.caller.object_id)
