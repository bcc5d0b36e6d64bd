"""Access checks (B6): would a principal be allowed an action on a scope, and which assignment grants it?

Answers also when the answer is no: the built-in roles that would grant the action, and the
``tether role assignment create`` command that grants the narrowest of them.
"""

from __future__ import annotations

from typing import Any

from tether.domain.ids import ResourceId
from tether.domain.roles import BUILT_IN_ROLES, OWNER
from tether.errors import NotFound
from tether.protocol.authorization import CheckAccessRequest
from tether.providers.base import RequestContext
from tether.store import principals


def grant_command(principal: str, role: str, scope: ResourceId | str) -> str:
    return f'tether role assignment create --assignee {principal} --role "{role}" --scope {scope}'


async def check_access(ctx: RequestContext, scope: ResourceId, request: CheckAccessRequest) -> dict[str, Any]:
    async with ctx.store.transaction() as session:
        principal = await principals.get(session, request.principalId)
    if principal is None or principal.tenant_id != ctx.caller.tenant_id:
        raise NotFound(f"Principal '{request.principalId}' does not exist in this tenant.", code="PrincipalNotFound")
    data = bool(request.isDataAction)
    decision = await ctx.authz.decide(principal.object_id, request.action, scope, data=data)
    # Narrowest first: a role granting few actions is the least-privilege fix; Owner only if nothing else.
    candidates = sorted(
        (r for r in BUILT_IN_ROLES if r.allows(request.action, data=data)),
        key=lambda r: (
            r is OWNER,
            any(p.startswith("*") for p in (*r.actions, *r.data_actions)),
            len(r.actions) + len(r.data_actions),
        ),
    )
    answer: dict[str, Any] = {
        "allowed": decision.allowed,
        "principalId": principal.object_id,
        "principalName": principal.display_name,
        "action": request.action,
        "isDataAction": data,
        "scope": str(scope),
        "grantedBy": None,
        "rolesThatWouldGrant": [r.name for r in candidates],
        "fix": None,
    }
    if decision.granted_by is not None:
        grant = decision.granted_by
        answer["grantedBy"] = {
            "roleAssignmentId": grant.id,
            "roleDefinitionName": grant.role.name,
            "scope": grant.scope,
        }
    elif candidates:
        answer["fix"] = grant_command(principal.object_id, candidates[0].name, scope)
    return answer
