"""Resource groups: created and updated synchronously, deleted (with everything in them) by a reconciler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.commands import either_cli
from tether.domain.ids import ResourceId
from tether.domain.models.resource_groups import ResourceGroupRecord
from tether.domain.names import validate_name
from tether.domain.resource_filters import parse_filter
from tether.domain.resources import Resource
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.protocol.resource_groups import CreateResourceGroupRequest, resource_group_properties
from tether.providers import lro
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import envelope, parse_body
from tether.providers.reads import read_page, read_row
from tether.store import resources


def _answer(row: Resource) -> dict[str, Any]:
    record = resources.read_properties(row, ResourceGroupRecord)
    body = envelope(row, properties=resource_group_properties(record, provisioning_state=row.provisioning_state))
    body.pop("systemData", None)
    return body


def not_found(resource_id: ResourceId) -> NotFound:
    return NotFound(
        f"Resource group '{resource_id.resource_group}' could not be found in subscription "
        f"'{resource_id.subscription_id}'. "
        "Create it with: " + either_cli(f"group create -n {resource_id.resource_group} -l <location>"),
        code="ResourceGroupNotFound",
    )


async def require_group(ctx: RequestContext, resource_id: ResourceId) -> None:
    """ARM answers 404 ``ResourceGroupNotFound`` for anything read under a group that does not exist (an
    ``MLClient`` without a resource group sends ``resourceGroups/None/...``), not an empty list."""
    if resource_id.resource_group is None:
        return
    group = ResourceId.group(resource_id.subscription_id, resource_id.resource_group)
    async with ctx.store.transaction() as session:
        if await resources.get(session, group) is None:
            raise not_found(group)


class ResourceGroups:
    full_type: ClassVar[str] = rt.RESOURCE_GROUPS

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return _answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        wanted = parse_filter(params.get("$filter"))
        if not wanted.equals and wanted.tag_prefix is None and wanted.name_contains is None:
            return await read_page(ctx, parent, self.full_type, offset=offset, limit=limit, render=_answer)
        # A subscription has few groups: filter them all, then page what matched.
        async with ctx.store.transaction() as session:
            rows = await resources.list_children(session, parent, self.full_type)
        matched = [
            r
            for r in rows
            if wanted.matches(
                name=r.name, resource_group=r.name, location=r.location, resource_type=r.type, tags=r.tags or {}
            )
        ]
        return Page([_answer(r) for r in matched[offset : offset + limit]], more=offset + limit < len(matched))

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateResourceGroupRequest, body)
        validate_name(self.full_type, resource_id.name)
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                row = await resources.insert(
                    session,
                    resource_id,
                    location=request.location.replace(" ", "").lower(),
                    tags=request.tags,
                    identity=None,
                    properties=ResourceGroupRecord(),
                    state=ProvisioningState.SUCCEEDED,
                    principal_id=ctx.caller.object_id,
                )
                return WriteResult(_answer(row), created=True)
            if row.provisioning_state == ProvisioningState.DELETING:
                raise Conflict(f"Resource group '{row.name}' is being deleted; wait and create it again.")
            if (row.location or "") != request.location.replace(" ", "").lower():
                raise InvalidRequest(
                    f"Resource group '{row.name}' already exists in location '{row.location}'; a resource group "
                    "cannot move. Use another name or the same location.",
                    code="InvalidResourceGroupLocation",
                )
            row = await resources.update(session, row, tags=request.tags, principal_id=ctx.caller.object_id)
            return WriteResult(_answer(row), created=False)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:  # unlike other resources, ARM answers a missing group's delete with 404
                raise not_found(resource_id)
            if row.provisioning_state == ProvisioningState.DELETING:
                raise Conflict(f"Resource group '{row.name}' is already being deleted.", code="ConflictingOperation")
            _, started = await lro.start(
                session, row, OperationKind.DELETE, principal_id=ctx.caller.object_id, starter=ctx.starter
            )
        ctx.starter.run(started)
        return DeleteResult(existed=True, operation_id=started.operation.id)
