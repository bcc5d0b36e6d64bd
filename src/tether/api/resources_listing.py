"""Subscription-level ARM reads that are not one resource type: ``/resources`` (of a subscription or
group), ``/providers[/{namespace}]`` (and ``/register``), ``/locations``.

These routes must be registered before ``api.arm``'s catch-all ``/subscriptions/{path}``, which would
read ``resources`` or a bare namespace as a malformed resource id. Each checks the subscription
(exists, caller's tenant) as every ARM route does; ``/resources`` then shows only what the caller may
read (``providers.resource_listing``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tether.api.actions import request_context
from tether.api.deps import ApiVersionDep, CallerDep, ServicesDep
from tether.api.services import Services
from tether.domain.ids import ResourceId, parse_path
from tether.domain.principals import Caller
from tether.errors import InvalidRequest, NotFound, Unauthenticated
from tether.providers import resource_listing
from tether.providers.resource_groups import require_group

router = APIRouter()
_MAX_TOP = 1000


async def _check_subscription(svc: Services, caller: Caller, subscription_id: str) -> ResourceId:
    """The subscription exists and is in the caller's tenant (the same answers as any ARM route)."""
    scope = parse_path(f"/subscriptions/{subscription_id}").scope
    tenant = await svc.authorizer.tenant_of(scope.subscription_id)
    if tenant is None:
        raise NotFound(f"The subscription '{subscription_id}' could not be found.", code="SubscriptionNotFound")
    if tenant != caller.tenant_id:
        raise Unauthenticated(
            f"The access token is from tenant '{caller.tenant_id}', but subscription '{subscription_id}' "
            "belongs to another tenant. Log in to that tenant.",
            code="InvalidAuthenticationTokenTenant",
        )
    return scope


def _page_bounds(request: Request) -> tuple[int, int]:
    params = request.query_params
    token = params.get("$skipToken") or params.get("$skiptoken") or "0"
    top = params.get("$top") or "0"
    if not token.isdigit() or not top.isdigit():
        raise InvalidRequest("$skipToken and $top must be numbers; use the nextLink of the previous page.")
    return int(token), min(int(top) or _MAX_TOP, _MAX_TOP)


async def _resources(request: Request, svc: Services, caller: Caller, scope: ResourceId) -> JSONResponse:
    offset, limit = _page_bounds(request)
    limit = min(limit, svc.settings.api.page_size)
    page = await resource_listing.list_resources(
        request_context(svc, caller),
        scope,
        filter_text=request.query_params.get("$filter"),
        offset=offset,
        limit=limit,
    )
    next_link = None
    if page.more:
        query = {k: v for k, v in request.query_params.items() if k.lower() != "$skiptoken"}
        query["$skiptoken"] = str(offset + len(page.items))
        next_link = f"{svc.public_url}{request.url.path}?{urlencode(query)}"
    return JSONResponse({"value": page.items, "nextLink": next_link})


@router.get("/subscriptions/{subscription_id}/resources")
async def subscription_resources(
    subscription_id: str, request: Request, svc: ServicesDep, caller: CallerDep, _api_version: ApiVersionDep
) -> JSONResponse:
    return await _resources(request, svc, caller, await _check_subscription(svc, caller, subscription_id))


@router.get("/subscriptions/{subscription_id}/resourceGroups/{group}/resources")
@router.get("/subscriptions/{subscription_id}/resourcegroups/{group}/resources", include_in_schema=False)
async def group_resources(
    subscription_id: str,
    group: str,
    request: Request,
    svc: ServicesDep,
    caller: CallerDep,
    _api_version: ApiVersionDep,
) -> JSONResponse:
    await _check_subscription(svc, caller, subscription_id)
    scope = parse_path(f"/subscriptions/{subscription_id}/resourceGroups/{group}").scope
    await require_group(request_context(svc, caller), scope)
    return await _resources(request, svc, caller, scope)


@router.get("/subscriptions/{subscription_id}/providers")
async def list_providers(
    subscription_id: str, svc: ServicesDep, caller: CallerDep, _api_version: ApiVersionDep
) -> JSONResponse:
    scope = await _check_subscription(svc, caller, subscription_id)
    value = [
        resource_listing.provider_answer(scope.subscription_id, ns) for ns in resource_listing.provider_namespaces()
    ]
    return JSONResponse({"value": value, "nextLink": None})


@router.get("/subscriptions/{subscription_id}/providers/{namespace}")
@router.post("/subscriptions/{subscription_id}/providers/{namespace}/register")
async def get_provider(
    subscription_id: str, namespace: str, svc: ServicesDep, caller: CallerDep, _api_version: ApiVersionDep
) -> JSONResponse:
    """A provider; registering one answers it as it is (every namespace Tether serves is registered)."""
    scope = await _check_subscription(svc, caller, subscription_id)
    return JSONResponse(resource_listing.find_provider(scope.subscription_id, namespace))


@router.get("/subscriptions/{subscription_id}/locations")
async def list_locations(
    subscription_id: str, svc: ServicesDep, caller: CallerDep, _api_version: ApiVersionDep
) -> JSONResponse:
    scope = await _check_subscription(svc, caller, subscription_id)
    value = await resource_listing.list_locations(request_context(svc, caller), scope.subscription_id)
    return JSONResponse({"value": value})
