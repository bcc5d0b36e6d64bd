"""PATCH on a workspace, as azure-ai-ml's ``ml.workspaces.begin_update`` sends it.

The SDK sends its whole ``WorkspaceUpdateParameters``: tags, identity, and properties such as
``description``, ``friendlyName``, ``publicNetworkAccess``, ``managedNetwork``, ``imageBuildCompute``...,
most unchanged or null. What a workspace can change here: ``tags`` (replaced whole), ``description`` and
``friendlyName``. A field that is null, equal to the workspace's current value, or the value Tether always
has (public network access Enabled, no managed network isolation) passes; any other change is refused
naming the field, and nothing is written (a silently ignored change is worse than an error).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from tether.domain.ids import ResourceId
from tether.domain.models.workspaces import WorkspaceRecord
from tether.domain.resources import Resource
from tether.domain.states import ProvisioningState
from tether.errors import Conflict, InvalidRequest
from tether.identity.managed import parse_identity_type
from tether.protocol.arm import StrictModel
from tether.protocol.partial_updates import changed_properties, document_properties
from tether.providers.base import RequestContext
from tether.store import resources

_READ_ONLY = {"id", "name", "type", "systemdata", "etag", "location", "kind", "sku"}
_CHANGEABLE = {"description", "friendlyName"}
# Properties whose only value Tether has; sending that value (any case) is no change.
_FIXED = {"publicnetworkaccess": "enabled", "provisioningstate": None}
_EMPTY: tuple[Any, ...] = (None, "", {}, [])


class _Descriptive(StrictModel):
    tags: dict[str, str] | None = Field(None, max_length=50)
    description: str | None = Field(None, max_length=2048)
    friendlyName: str | None = Field(None, max_length=256)  # noqa: N815


def _identity_key(identity: Any) -> tuple[str, frozenset[str]] | None:
    if not isinstance(identity, dict) or not isinstance(identity.get("type"), str):
        return None
    kind = parse_identity_type(identity["type"])
    assigned = identity.get("userAssignedIdentities") or {}
    return kind, frozenset(str(k).lower() for k in assigned) if isinstance(assigned, dict) else frozenset()


def _unchanged_property(key: str, value: Any, present: Any) -> bool:
    if value in _EMPTY:
        return True
    lower = key.lower()
    if lower in _FIXED:
        return _FIXED[lower] is None or (isinstance(value, str) and value.lower() == _FIXED[lower])
    if lower == "managednetwork":  # 'Disabled' isolation is what every Tether workspace has
        return isinstance(value, dict) and value.get("isolationMode") in (None, "Disabled")
    if isinstance(value, str) and isinstance(present, str):
        return value.lower() == present.lower()
    return bool(present == value)


def _refused_fields(body: dict[str, Any], current: dict[str, Any]) -> list[str]:
    refused: list[str] = []
    for key, value in body.items():
        if key in ("tags", "properties") or key.lower() in _READ_ONLY:
            continue
        if key == "identity":
            if value is not None and _identity_key(value) != _identity_key(current.get("identity")):
                refused.append("identity")
            continue
        if value not in _EMPTY:
            refused.append(key)
    refused += changed_properties(
        body, current, unchanged=_unchanged_property, ignored=lambda name: name in _CHANGEABLE
    )
    return refused


def _descriptive(body: dict[str, Any]) -> _Descriptive:
    properties = document_properties(body)
    try:
        return _Descriptive.model_validate(
            {"tags": body.get("tags"), **{k: properties.get(k) for k in _CHANGEABLE}},
        )
    except ValidationError as e:
        raise InvalidRequest(
            "tags must be at most 50 string pairs; description at most 2048 and friendlyName 256 characters.",
            code="InvalidRequestContent",
        ) from e


async def patch_workspace(
    ctx: RequestContext, resource_id: ResourceId, body: Any, *, current: dict[str, Any]
) -> Resource:
    """Apply the PATCH (``current``: the workspace as GET answers it) and return the updated row."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="InvalidRequestContent")
    refused = _refused_fields(body, current)
    if refused:
        raise InvalidRequest(
            f"A workspace PATCH changes tags, description and friendlyName; Tether cannot honour a change to "
            f"{', '.join(repr(f) for f in refused)}. Leave those out or send their current values.",
            code="InvalidRequestContent",
            target=refused[0],
        )
    changes = _descriptive(body)
    async with ctx.store.transaction() as session:
        row = await resources.get(session, resource_id, for_update=True)
        if row is None or ProvisioningState(row.provisioning_state) is not ProvisioningState.SUCCEEDED:
            state = row.provisioning_state if row else "gone"
            raise Conflict(
                f"Workspace '{resource_id.name}' is {state}; wait until it has Succeeded to update it.",
                code="ConflictingOperation",
            )
        record = resources.read_properties(row, WorkspaceRecord)
        return await resources.update(
            session,
            row,
            tags=changes.tags,
            properties=record.described(friendly_name=changes.friendlyName, description=changes.description),
            principal_id=ctx.caller.object_id,
        )
