"""``POST <compute id>/preflight``: the attach's checks, run as the workspace identity, creating nothing (B1).

Answers ``{"ready": bool, "checks": [{"step", "status", "message", "code"?, "fix"?}]}``; ``ready`` is
true when no check failed (warnings do not block an attach).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tether.api.deps import json_body
from tether.api.services import Services
from tether.domain.actions import action_for
from tether.domain.attach import attach_requirements
from tether.domain.ids import ArmPath, ResourceId
from tether.domain.principals import Caller
from tether.domain.resource_types import COMPUTES
from tether.providers.compute_grants import ASSIGN_ACTION
from tether.providers.computes import validate_attach
from tether.reconcile.attach import load_target, preflight


async def run_preflight(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    return JSONResponse(await preflight_answer(svc, caller, target.scope, await json_body(request, svc)))


async def preflight_answer(svc: Services, caller: Caller, compute_id: ResourceId, attach_body: Any) -> dict[str, Any]:
    """The preflight's answer for an attach body (the API's action and the Studio's Check button)."""
    await svc.authorizer.authorize(caller, action_for(COMPUTES, "PUT"), compute_id)
    attach = validate_attach(compute_id, attach_body)
    async with svc.store.transaction() as session:
        attach_target = await load_target(
            session, compute_id=compute_id, cluster_id=attach.cluster_id, namespace=attach.namespace
        )
        workspace_identity = attach_target.caller.kind.value
    grantable: set[str] = set()
    if workspace_identity == "SystemAssignedIdentity":
        for requirement in attach_requirements(attach.cluster_id):
            if (await svc.authorizer.decide(caller.object_id, ASSIGN_ACTION, requirement.scope)).allowed:
                grantable.add(requirement.step)
    checks = await preflight(
        svc.authorizer,
        svc.access,
        attach_target,
        grantable=grantable,
        deadline_s=svc.settings.reconcile.attach_step_deadline_s,
    )
    body = {
        "ready": not any(c.status == "fail" for c in checks),
        "workspaceIdentity": {"principalId": attach_target.caller.object_id, "name": attach_target.caller.display_name},
        "checks": [{k: v for k, v in asdict(c).items() if v is not None} for c in checks],
    }
    return body
