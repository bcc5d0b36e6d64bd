"""``POST <compute id>/preflight``: the attach's checks, run as the workspace identity, creating nothing (B1).

Answers ``{"ready": bool, "workspaceIdentity": {...}, "checks": [{"step", "status", "message", "code"?,
"fix"?}]}``; ``ready`` is true when no check failed (warnings do not block an attach). This module only
parses, authorizes and translates: what is checked, and in which order, is the attach pipeline's
(``reconcile.attach.preflight``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tether.api.deps import json_body
from tether.api.services import Services
from tether.domain.actions import action_for
from tether.domain.attach import Check
from tether.domain.ids import ArmPath, ResourceId
from tether.domain.principals import Caller
from tether.domain.resource_types import COMPUTES
from tether.providers.computes import validate_attach
from tether.reconcile.attach import preflight


async def run_preflight(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    return JSONResponse(await preflight_answer(svc, caller, target.scope, await json_body(request, svc)))


async def preflight_answer(svc: Services, caller: Caller, compute_id: ResourceId, attach_body: Any) -> dict[str, Any]:
    """The preflight's answer for an attach body (the API's action and the Studio's Check button)."""
    await svc.authorizer.authorize(caller, action_for(COMPUTES, "PUT"), compute_id)
    attach = validate_attach(compute_id, attach_body)
    result = await preflight(
        svc.store,
        svc.authorizer,
        access=svc.access,
        requester=caller,
        compute_id=compute_id,
        cluster_id=attach.cluster_id,
        namespace=attach.namespace,
        deadline_s=svc.settings.reconcile.attach_step_deadline_s,
    )
    identity = result.workspace_identity
    return {
        "ready": result.ready,
        "workspaceIdentity": {"principalId": identity.object_id, "name": identity.display_name},
        "checks": [_check_json(check) for check in result.checks],
    }


def _check_json(check: Check) -> dict[str, str]:
    body = {"step": check.step, "status": check.status.value, "message": check.message}
    if check.code is not None:
        body["code"] = check.code
    if check.fix is not None:
        body["fix"] = check.fix
    return body
