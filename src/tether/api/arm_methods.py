"""HEAD and PATCH on ARM resources, next to the generic GET/PUT/DELETE/POST routes of ``api.arm``.

- ``HEAD <id>``: does the resource exist? 204 or 404, no body (``az group exists``). It needs the
  same read permission as GET, so a HEAD cannot probe what the caller may not read.
- ``PATCH <id>``: a partial update. Every tracked resource takes a tags change (``providers.patching``);
  a provider with its own ``patch`` method takes more. Role assignments and definitions, federated
  credentials and subscriptions cannot be patched in ARM either: 405, naming PUT.

Starlette tries every route for a full match (path and method) before answering 405, so these routes
coexist with ``api.arm``'s on the same path pattern.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tether.api.actions import request_context
from tether.api.arm import provider_for, request_target
from tether.api.deps import ApiVersionDep, CallerDep, ServicesDep, json_body
from tether.domain import resource_types as rt
from tether.domain.actions import action_for
from tether.domain.ids import SUBSCRIPTIONS
from tether.errors import InvalidRequest, NotFound
from tether.providers.patching import patch_tags

router = APIRouter()

_NOT_PATCHABLE = {
    t.lower() for t in (SUBSCRIPTIONS, rt.ROLE_ASSIGNMENTS, rt.ROLE_DEFINITIONS, rt.FEDERATED_CREDENTIALS)
}


@router.head("/subscriptions/{path:path}", include_in_schema=False)
async def resource_exists(
    request: Request, svc: ServicesDep, caller: CallerDep, _api_version: ApiVersionDep
) -> Response:
    target = request_target(request)
    if target.collection_type is not None:
        return Response(status_code=400)  # HEAD answers no body; a collection has no existence to test
    resource_id = target.resource_id
    provider = provider_for(svc, resource_id.full_type)
    await svc.authorizer.authorize(caller, action_for(resource_id.full_type, "HEAD"), resource_id)
    try:
        await provider.get(request_context(svc, caller), resource_id)
    except NotFound:
        return Response(status_code=404)
    return Response(status_code=204)


@router.patch("/subscriptions/{path:path}", include_in_schema=False)
async def patch_resource(
    request: Request, svc: ServicesDep, caller: CallerDep, _api_version: ApiVersionDep
) -> Response:
    target = request_target(request)
    if target.collection_type is not None:
        kind = target.collection_type.rsplit("/", 1)[-1]
        raise InvalidRequest(
            f"PATCH needs a resource id, but the path ends with the collection '{kind}' and no name.",
            code="InvalidResourceId",
        )
    resource_id = target.resource_id
    provider = provider_for(svc, resource_id.full_type)
    if resource_id.full_type.lower() in _NOT_PATCHABLE:
        return JSONResponse(
            {
                "error": {
                    "code": "MethodNotAllowed",
                    "message": f"A {resource_id.full_type} cannot be patched; send the whole resource with PUT.",
                }
            },
            status_code=405,
            headers={"Allow": "GET, PUT, DELETE"},
        )
    await svc.authorizer.authorize(caller, action_for(resource_id.full_type, "PATCH"), resource_id)
    ctx = request_context(svc, caller)
    body: Any = await json_body(request, svc)
    own_patch = getattr(provider, "patch", None)
    if own_patch is not None:
        return JSONResponse(await own_patch(ctx, resource_id, body))
    await patch_tags(ctx, resource_id, body, current=await provider.get(ctx, resource_id))
    return JSONResponse(await provider.get(ctx, resource_id))
