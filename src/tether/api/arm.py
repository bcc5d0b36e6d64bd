"""The generic ARM routes: every resource type is served by one route and a handler per method.

A handler parses the path into an id (case-insensitive, validated in ``tether.domain.ids``), finds
the type's provider, authorizes the action on the id, calls the provider, and serializes the result.
The path is read from the request itself, not from the route's ``{path}`` parameter: Starlette's
route pattern would silently drop a trailing ``%0A`` and address another resource.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tether.api import preconditions
from tether.api.actions import request_context, run_action
from tether.api.deps import ApiVersionDep, CallerDep, ServicesDep, json_body
from tether.api.operations import operation_url
from tether.api.services import Services
from tether.domain.actions import action_for
from tether.domain.ids import ArmPath, ResourceId, parse_path
from tether.domain.principals import Caller
from tether.errors import InvalidRequest
from tether.providers.base import ResourceProvider, put_resource
from tether.providers.resource_groups import require_group

router = APIRouter()

Handler = Callable[[Request, Services, Caller, ArmPath], Awaitable[Response]]


# Azure's SDKs build generic resource URLs as '/providers/{namespace}/{parentPath}/{type}/{name}'; an
# empty parent path leaves '//' right after the namespace, which ARM reads as no parent. Only that
# place is mended: any other empty segment stays an InvalidResourceId.
_EMPTY_PARENT_PATH = re.compile(r"(/providers/[^/]+)//(?=[^/])", re.IGNORECASE)
# ARM's deployment operations live at '.../resourcegroups/{g}/deployments/{d}/operations', without the
# 'providers/Microsoft.Resources' the deployment itself has; read them as that deployment's children.
_DEPLOYMENT_SHORTHAND = re.compile(r"^(/subscriptions/[^/]+/resourcegroups/[^/]+)/(deployments/)", re.IGNORECASE)


def request_target(request: Request) -> ArmPath:
    """The request's ARM path, parsed (with an SDK's empty parent path and ARM's deployment shorthand mended)."""
    path = _DEPLOYMENT_SHORTHAND.sub(r"\1/providers/Microsoft.Resources/\2", request.scope["path"])
    return parse_path(_EMPTY_PARENT_PATH.sub(r"\1/", path))


def provider_for(svc: Services, full_type: str) -> ResourceProvider:
    provider = svc.providers.for_type(full_type)
    if provider is None:
        namespace = full_type.split("/", 1)[0]
        raise InvalidRequest(
            f"The resource type '{full_type}' could not be found in the namespace '{namespace}'. "
            f"Tether serves: {', '.join(svc.providers.served_types())}.",
            code="InvalidResourceType",
        )
    return provider


def _etag_header(body: dict[str, Any]) -> dict[str, str]:
    etag = body.get("etag")
    return {"ETag": etag} if isinstance(etag, str) else {}


def _accepted(svc: Services, resource_id: ResourceId, operation_id: str) -> dict[str, str]:
    url = operation_url(svc.public_url, resource_id.subscription_id, operation_id)
    return {"Azure-AsyncOperation": url, "Retry-After": "1"}


def _single(target: ArmPath, method: str) -> ResourceId:
    if target.collection_type is not None:
        kind = target.collection_type.rsplit("/", 1)[-1]
        raise InvalidRequest(
            f"{method} needs a resource id, but the path ends with the collection '{kind}' and no name.",
            code="InvalidResourceId",
        )
    return target.resource_id


_MAX_SKIP = 2**31 - 1


def _skip_token(request: Request) -> int:
    token = request.query_params.get("$skipToken") or request.query_params.get("$skiptoken") or "0"
    # ASCII digits only ('²'.isdigit() is True), and small enough for every database's integer offset.
    if not (token.isascii() and token.isdigit()) or int(token) > _MAX_SKIP:
        raise InvalidRequest(f"$skipToken '{token[:40]}' is invalid; use the nextLink of the previous page.")
    return int(token)


async def _get(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    ctx = request_context(svc, caller)
    if target.collection_type is None:
        resource_id = target.resource_id
        provider = provider_for(svc, resource_id.full_type)
        await svc.authorizer.authorize(caller, action_for(resource_id.full_type, "GET"), resource_id)
        if resource_id.segments:  # a group's own read answers ResourceGroupNotFound; no need to read it twice
            await require_group(ctx, resource_id)
        body = await provider.get(ctx, resource_id)
        return JSONResponse(body, headers=_etag_header(body))
    provider = provider_for(svc, target.collection_type)
    await svc.authorizer.authorize(caller, action_for(target.collection_type, "GET"), target.scope)
    await require_group(ctx, target.scope)
    offset = _skip_token(request)
    params = dict(request.query_params)
    page = await provider.list(ctx, target.scope, offset=offset, limit=svc.settings.api.page_size, params=params)
    next_link = None
    if page.more:
        query = {k: v for k, v in params.items() if k.lower() != "$skiptoken"}
        query["$skipToken"] = str(offset + len(page.items))
        next_link = f"{svc.public_url}{request.url.path}?{urlencode(query)}"
    return JSONResponse({"value": page.items, "nextLink": next_link})


async def _put(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    resource_id = _single(target, "PUT")
    provider = provider_for(svc, resource_id.full_type)
    await svc.authorizer.authorize(caller, action_for(resource_id.full_type, "PUT"), resource_id)
    body = await json_body(request, svc)
    async with preconditions.guarded(request, provider, request_context(svc, caller), resource_id):
        result = await put_resource(provider, request_context(svc, caller), resource_id, body)
    headers = {**result.headers, **(_accepted(svc, resource_id, result.operation_id) if result.operation_id else {})}
    headers.update(_etag_header(result.resource))
    return JSONResponse(result.resource, status_code=201 if result.created else 200, headers=headers)


async def _delete(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    resource_id = _single(target, "DELETE")
    provider = provider_for(svc, resource_id.full_type)
    await svc.authorizer.authorize(caller, action_for(resource_id.full_type, "DELETE"), resource_id)
    async with preconditions.guarded(request, provider, request_context(svc, caller), resource_id):
        result = await provider.delete(request_context(svc, caller), resource_id, params=dict(request.query_params))
    if not result.existed:
        return Response(status_code=204)
    if result.operation_id:
        return Response(status_code=202, headers=_accepted(svc, resource_id, result.operation_id))
    if result.resource is not None:
        return JSONResponse(result.resource)
    return Response(status_code=200)


async def _post(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    if target.collection_type is None:
        raise InvalidRequest("POST needs an action after the resource id, e.g. .../checkAccess.", code="InvalidAction")
    return await run_action(request, svc, caller, target)


_HANDLERS: dict[str, Handler] = {"GET": _get, "PUT": _put, "DELETE": _delete, "POST": _post}


# Hidden from the OpenAPI document, which describes each resource type's paths instead (openapi_arm).
@router.api_route("/subscriptions/{path:path}", methods=list(_HANDLERS), include_in_schema=False)
async def arm_request(request: Request, svc: ServicesDep, caller: CallerDep, _api_version: ApiVersionDep) -> Response:
    target = request_target(request)
    return await _HANDLERS[request.method](request, svc, caller, target)
