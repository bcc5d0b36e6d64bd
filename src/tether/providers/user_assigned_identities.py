"""User-assigned managed identities (``Microsoft.ManagedIdentity/userAssignedIdentities``).

Each is an ARM resource plus a principal of the tenant (``principalId`` = object id, ``clientId`` =
app id) that can hold roles and get tokens. Deleting one deletes its principal, its federated
credentials and its role assignments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.commands import either_cli
from tether.domain.ids import ResourceId
from tether.domain.models.identities import UserAssignedIdentityRecord
from tether.domain.names import validate_name
from tether.domain.principals import PrincipalKind
from tether.domain.resources import Resource
from tether.domain.states import ProvisioningState
from tether.errors import NotFound
from tether.protocol.identities import CreateIdentityRequest, identity_properties
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import envelope, parse_body, require_parent
from tether.providers.reads import read_page, read_row
from tether.store import principals, resources, role_assignments


def answer(row: Resource) -> dict[str, Any]:
    return envelope(row, properties=identity_properties(resources.read_properties(row, UserAssignedIdentityRecord)))


def not_found(resource_id: ResourceId) -> NotFound:
    return NotFound(
        f"The user-assigned identity '{resource_id.name}' was not found in resource group "
        f"'{resource_id.resource_group}'. Create it with: "
        + either_cli(f"identity create -g {resource_id.resource_group} -n {resource_id.name}"),
        code="ResourceNotFound",
    )


class UserAssignedIdentities:
    full_type: ClassVar[str] = rt.USER_ASSIGNED_IDENTITIES

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        return await read_page(ctx, parent, self.full_type, offset=offset, limit=limit, render=answer)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateIdentityRequest, body)
        validate_name(self.full_type, resource_id.name)
        async with ctx.store.transaction() as session:
            group = await require_parent(session, resource_id)
            row = await resources.get(session, resource_id, for_update=True)
            if row is not None:
                row = await resources.update(session, row, tags=request.tags, principal_id=ctx.caller.object_id)
                return WriteResult(answer(row), created=False)
            principal = await principals.create(
                session,
                tenant_id=ctx.caller.tenant_id,
                kind=PrincipalKind.USER_ASSIGNED_IDENTITY.value,
                display_name=resource_id.name,
                resource_key=resource_id.key,
            )
            location = (request.location or (group.location if group else None) or "local").lower()
            row = await resources.insert(
                session,
                resource_id,
                location=location,
                tags=request.tags,
                identity=None,
                properties=UserAssignedIdentityRecord(
                    tenant_id=principal.tenant_id, principal_id=principal.object_id, client_id=principal.app_id
                ),
                state=ProvisioningState.SUCCEEDED,
                principal_id=ctx.caller.object_id,
            )
        return WriteResult(answer(row), created=True)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            principal = await principals.get_by_resource(session, row.key)
            if principal is not None:
                await role_assignments.delete_for_principal(session, principal.object_id)
                await principals.delete(session, principal.object_id)
            await resources.delete_tree_by_key(session, row.key)
        if principal is not None:
            ctx.authz.index.invalidate(principal.object_id)
        return DeleteResult(existed=True)
