"""S10: the roles a system-assigned workspace identity needs to attach a cluster, granted at attach.

When the workspace identity lacks a required role and the caller may assign roles on that scope,
the role is assigned (and reported back); when the caller may not, the attach is refused with the
exact grants an Owner must make. A user-assigned workspace identity gets no automatic grants: an
administrator grants them before attaching, and the attach reports what is missing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tether.authz.service import Authorizer
from tether.domain.attach import Requirement, attach_requirements
from tether.domain.ids import ResourceId
from tether.domain.principals import Caller, PrincipalKind
from tether.errors import ErrorDetail, Forbidden
from tether.providers.base import RequestContext
from tether.store import Session, principals, role_assignments

ASSIGN_ACTION = "Microsoft.Authorization/roleAssignments/write"


@dataclass(frozen=True)
class Granted:
    role: str
    scope: str
    assignment_id: str


async def may_assign(authz: Authorizer, *, granter_id: str, scope: ResourceId) -> bool:
    """Whether ``granter_id`` may assign roles on ``scope`` (what an automatic grant needs of the caller)."""
    return (await authz.decide(granter_id, ASSIGN_ACTION, scope)).allowed


async def grantable_steps(
    authz: Authorizer, *, requester: Caller, workspace_identity: Caller, cluster_id: ResourceId
) -> frozenset[str]:
    """The attach steps whose missing role an attach by ``requester`` would grant itself (S10): none for a
    user-assigned workspace identity, else those on whose scope the requester may assign roles."""
    if workspace_identity.kind is not PrincipalKind.SYSTEM_ASSIGNED_IDENTITY:
        return frozenset()
    return frozenset(
        [
            requirement.step
            for requirement in attach_requirements(cluster_id)
            if await may_assign(authz, granter_id=requester.object_id, scope=requirement.scope)
        ]
    )


async def missing_requirements(ctx: RequestContext, principal_id: str, cluster_id: ResourceId) -> list[Requirement]:
    missing = []
    for requirement in attach_requirements(cluster_id):
        if not (await ctx.authz.decide(principal_id, requirement.action, requirement.scope)).allowed:
            missing.append(requirement)
    return missing


async def grant_attach_roles(
    ctx: RequestContext, session: Session, *, workspace_principal_id: str, cluster_id: ResourceId
) -> list[Granted]:
    """Assign what the workspace identity lacks, or refuse (403) listing the grants an Owner must make."""
    missing = await missing_requirements(ctx, workspace_principal_id, cluster_id)
    if not missing:
        return []
    refused = [r for r in missing if not await may_assign(ctx.authz, granter_id=ctx.caller.object_id, scope=r.scope)]
    if refused:
        raise Forbidden(
            f"The workspace identity ({workspace_principal_id}) needs roles to attach this cluster, and the "
            f"{ctx.caller.describe()} may not assign them. An Owner must run: "
            + " ; ".join(r.grant_command(workspace_principal_id) for r in refused),
            code="AuthorizationFailed",
            details=[
                ErrorDetail("MissingRoleAssignment", r.grant_command(workspace_principal_id), target=r.step)
                for r in refused
            ],
        )
    principal = await principals.get(session, workspace_principal_id)
    assert principal is not None
    granted = []
    for requirement in missing:
        name = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{requirement.scope.key}|{principal.object_id}|{requirement.role.guid}")
        )
        assignment_id = f"{requirement.scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        await role_assignments.create(
            session,
            assignment_id=assignment_id,
            name=name,
            subscription_id=requirement.scope.subscription_id,
            scope=str(requirement.scope),
            principal_id=principal.object_id,
            principal_type="ServicePrincipal",
            role_definition_guid=requirement.role.guid,
            description=f"Granted by Tether at attach: {requirement.why}.",
            created_by=ctx.caller.object_id,
        )
        granted.append(Granted(requirement.role.name, str(requirement.scope), assignment_id))
    return granted
