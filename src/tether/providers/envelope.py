"""Turning stored rows into ARM envelopes, and the checks every provider makes before a write."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tether.domain.ids import ResourceId
from tether.domain.resources import Resource
from tether.errors import ErrorDetail, InvalidRequest, NotFound
from tether.store import Session, resources


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def envelope(row: Resource, *, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ARM envelope of a row; ``properties`` overrides the stored ones (to add or hide fields)."""
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "location": row.location,
        "tags": row.tags or {},
        "properties": properties if properties is not None else dict(row.properties),
        "systemData": {
            "createdBy": row.created_by,
            "createdByType": "Application",
            "createdAt": rfc3339(row.created_at),
            "lastModifiedBy": row.modified_by,
            "lastModifiedByType": "Application",
            "lastModifiedAt": rfc3339(row.modified_at),
        },
    }
    if row.identity is not None:
        body["identity"] = row.identity
    body["etag"] = etag_of(body)
    return body


def etag_of(body: dict[str, Any]) -> str:
    """A strong ETag of a resource body: a digest of what it says, so any change to it (a user's PUT, a
    reconciler's state change) gives a new one without a stored counter. Quoted, as HTTP wants."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: Any) -> M:
    """Validate a request body, turning pydantic's errors into one ARM error that lists each field."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="InvalidRequestContent")
    try:
        return model.model_validate(body)
    except ValidationError as e:
        details = [
            ErrorDetail(
                code="InvalidRequestContent",
                message=f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}",
                target=".".join(str(p) for p in err["loc"]) or None,
            )
            for err in e.errors()
        ]
        summary = "; ".join(d.message for d in details)
        raise InvalidRequest(f"The request body is invalid: {summary}.", details=details) from e


async def require_parent(session: Session, resource_id: ResourceId) -> Resource | None:
    """The parent resource row, or ``NotFound`` naming it; None when the parent is a subscription."""
    parent = resource_id.parent
    if parent is None or parent.resource_group is None:
        return None
    row = await resources.get(session, parent)
    if row is None:
        kind = parent.full_type.rsplit("/", 1)[-1]
        code = "ResourceGroupNotFound" if parent.full_type.endswith("resourceGroups") else "ParentResourceNotFound"
        raise NotFound(f"{kind} '{parent.name}' ({parent}) could not be found; create it first.", code=code)
    return row
