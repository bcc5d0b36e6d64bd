"""POST actions on ARM scopes (``<scope>/providers/<Namespace>/<action>``), one small handler each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tether.api.deps import json_body
from tether.api.services import Services
from tether.domain.ids import ArmPath
from tether.domain.principals import Caller
from tether.errors import InvalidRequest
from tether.protocol.authorization import CheckAccessRequest
from tether.providers.access_checks import check_access
from tether.providers.base import RequestContext
from tether.providers.envelope import parse_body

ActionHandler = Callable[[Request, Services, Caller, ArmPath], Awaitable[Response]]


def request_context(svc: Services, caller: Caller) -> RequestContext:
    return RequestContext(caller=caller, store=svc.store, hints=svc.hints, settings=svc.settings, authz=svc.authorizer)


async def _check_access(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(caller, "Microsoft.Authorization/roleAssignments/read", target.scope)
    body = parse_body(CheckAccessRequest, await json_body(request, svc))
    return JSONResponse(await check_access(request_context(svc, caller), target.scope, body))


_ACTIONS: dict[str, ActionHandler] = {"microsoft.authorization/checkaccess": _check_access}


async def run_action(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    assert target.collection_type is not None
    handler = _ACTIONS.get(target.collection_type.lower())
    if handler is None:
        raise InvalidRequest(
            f"The action '{target.collection_type}' is not supported on '{target.scope}'.", code="InvalidAction"
        )
    return await handler(request, svc, caller, target)
