"""Role assignments: ARM extension resources at any scope.

Their ids are ``<scope>/providers/Microsoft.Authorization/roleAssignments/<guid>``.

Creating one needs ``Microsoft.Authorization/roleAssignments/write`` at the scope (Owner has it,
Contributor does not). A second assignment of the same role to the same principal at the same scope
is ``409 RoleAssignmentExists``. Listing at a scope returns assignments at, above and below it, as
ARM does; ``$filter=atScope()`` keeps those at and above, ``principalId eq '<id>'`` one principal's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.commands import either_cli
from tether.domain.ids import ResourceId
from tether.domain.role_assignments import RoleAssignment
from tether.domain.roles import find_role, role_by_guid
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.protocol.authorization import CreateRoleAssignmentRequest
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import parse_body, rfc3339
from tether.store import Session, federated_credentials, principals, resources, role_assignments

_PRINCIPAL_FILTER = re.compile(r"principalId\s+eq\s+'([^']+)'", re.IGNORECASE)
_ASSIGNED_TO = re.compile(r"assignedTo\('([^']+)'\)", re.IGNORECASE)
_AT_SCOPE = re.compile(r"atScope\(\)", re.IGNORECASE)


def answer(row: RoleAssignment) -> dict[str, Any]:
    role = role_by_guid(row.role_definition_guid)
    return {
        "id": row.display_id,
        "name": row.name,
        "type": rt.ROLE_ASSIGNMENTS,
        "properties": {
            "roleDefinitionId": (
                f"/subscriptions/{row.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"
                f"{row.role_definition_guid}"
            ),
            "roleDefinitionName": role.name if role else None,
            "principalId": row.principal_id,
            "principalType": row.principal_type,
            "scope": row.scope,
            "description": row.description,
            "createdOn": rfc3339(row.created_at),
            "createdBy": row.created_by,
        },
    }


async def require_scope(session: Session, scope: ResourceId) -> None:
    """The scope of an assignment must exist: its resource group and, for a resource scope, the resource."""
    if scope.resource_group is not None:
        group = scope.scopes()[1]
        if await resources.get(session, group) is None:
            raise NotFound(f"Resource group '{scope.resource_group}' could not be found.", code="ResourceGroupNotFound")
    if scope.full_type == rt.FEDERATED_CREDENTIALS:
        exists = await federated_credentials.exists(session, resource_key=scope.key)
    else:
        exists = not scope.segments or await resources.get(session, scope) is not None
    if not exists:
        raise NotFound(
            f"The scope '{scope}' does not exist; a role can only be assigned on an existing resource.",
            code="ResourceNotFound",
        )


class RoleAssignments:
    full_type: ClassVar[str] = rt.ROLE_ASSIGNMENTS

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        async with ctx.store.transaction() as session:
            row = await role_assignments.get(session, str(resource_id))
        if row is None:
            raise NotFound(f"The role assignment '{resource_id.name}' is not found.", code="RoleAssignmentNotFound")
        return answer(row)

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        text = params.get("$filter", "")
        principal = _PRINCIPAL_FILTER.search(text) or _ASSIGNED_TO.search(text)
        async with ctx.store.transaction() as session:
            rows = list(await role_assignments.at_or_above(session, [s.key for s in parent.scopes()]))
            if not _AT_SCOPE.search(text):
                seen = {r.id for r in rows}
                rows += [r for r in await role_assignments.within(session, parent.key) if r.id not in seen]
        if principal:
            rows = [r for r in rows if r.principal_id == principal.group(1).lower()]
        rows.sort(key=lambda r: (r.scope_key, r.name))
        chunk = rows[offset : offset + limit]
        return Page([answer(r) for r in chunk], more=offset + limit < len(rows))

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateRoleAssignmentRequest, body).properties
        _require_guid(resource_id.name)
        role = find_role(request.roleDefinitionId)
        if role is None:
            raise InvalidRequest(
                f"The role definition '{request.roleDefinitionId}' does not exist. "
                "See the roles with: " + either_cli("role definition list"),
                code="RoleDefinitionDoesNotExist",
            )
        scope = resource_id.parent
        assert scope is not None  # an extension resource always has one
        async with ctx.store.transaction() as session:
            await require_scope(session, scope)
            principal = await principals.get(session, request.principalId)
            if principal is None or principal.tenant_id != ctx.caller.tenant_id:
                raise InvalidRequest(
                    f"Principal {request.principalId} does not exist in the directory {ctx.caller.tenant_id}. "
                    "Find principals with: " + either_cli("ad sp list --display-name <name>"),
                    code="PrincipalNotFound",
                )
            existing = await role_assignments.get(session, str(resource_id))
            if existing is not None:
                if existing.principal_id == principal.object_id and existing.role_definition_guid == role.guid:
                    return WriteResult(answer(existing), created=False)
                raise Conflict(
                    "A role assignment with this name exists with another role or principal; an assignment "
                    "cannot be changed. Delete it and create a new one.",
                    code="RoleAssignmentUpdateNotPermitted",
                )
            row = await role_assignments.create(
                session,
                assignment_id=str(resource_id),
                name=resource_id.name,
                subscription_id=resource_id.subscription_id,
                scope=str(scope),
                principal_id=principal.object_id,
                principal_type="ServicePrincipal",
                role_definition_guid=role.guid,
                description=request.description,
                created_by=ctx.caller.object_id,
            )
        ctx.authz.index.invalidate(principal.object_id)
        return WriteResult(answer(row), created=True)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await role_assignments.delete(session, str(resource_id))
        if row is None:
            return DeleteResult(existed=False)
        ctx.authz.index.invalidate(row.principal_id)
        return DeleteResult(existed=True, resource=answer(row))


def _require_guid(name: str) -> None:
    try:
        uuid.UUID(name)
    except ValueError as e:
        raise InvalidRequest(
            f"The role assignment name '{name}' is not valid: it must be a GUID.", code="InvalidRoleAssignmentId"
        ) from e
