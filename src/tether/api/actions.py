"""POST actions on ARM scopes (``<scope>/providers/<Namespace>/<action>``), one small handler each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tether.api.attach_preflight import run_preflight
from tether.api.deps import json_body
from tether.api.services import Services
from tether.domain.actions import action_for
from tether.domain.ids import ArmPath
from tether.domain.principals import Caller
from tether.domain.resource_types import (
    CODE_VERSIONS,
    COMPUTES,
    CONNECTED_CLUSTERS,
    DATASTORES,
    JOBS,
    MANAGED_CLUSTERS,
    STORAGE_ACCOUNTS,
)
from tether.errors import InvalidRequest
from tether.protocol.authorization import CheckAccessRequest
from tether.providers.access_checks import check_access
from tether.providers.base import RequestContext
from tether.providers.datastores import Datastores
from tether.providers.envelope import parse_body
from tether.providers.ml_assets import CodeVersions

ActionHandler = Callable[[Request, Services, Caller, ArmPath], Awaitable[Response]]


def request_context(svc: Services, caller: Caller) -> RequestContext:
    return RequestContext(
        caller=caller, store=svc.store, starter=svc.starter, settings=svc.settings, authz=svc.authorizer
    )


async def _check_access(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(caller, "Microsoft.Authorization/roleAssignments/read", target.scope)
    body = parse_body(CheckAccessRequest, await json_body(request, svc))
    return JSONResponse(await check_access(request_context(svc, caller), target.scope, body))


async def _list_cluster_admin_credential(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(
        caller, action_for(MANAGED_CLUSTERS, "POST", action="listClusterAdminCredential"), target.scope
    )
    return JSONResponse(await svc.managed_clusters.list_admin_credential(request_context(svc, caller), target.scope))


async def _list_cluster_user_credential(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    """AKS without Entra ID integration answers the user credential with the cluster's local account:
    Tether holds one kubeconfig per cluster, so it is the same one, under AKS's name ``clusterUser``."""
    await svc.authorizer.authorize(
        caller, action_for(MANAGED_CLUSTERS, "POST", action="listClusterUserCredential"), target.scope
    )
    answer = await svc.managed_clusters.list_admin_credential(request_context(svc, caller), target.scope)
    return JSONResponse({"kubeconfigs": [{**k, "name": "clusterUser"} for k in answer["kubeconfigs"]]})


async def _issue_agent_credential(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(caller, action_for(CONNECTED_CLUSTERS, "PUT"), target.scope)
    return JSONResponse(await svc.connected_clusters.issue_agent_credential(request_context(svc, caller), target.scope))


async def _revoke_agent_credential(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(caller, action_for(CONNECTED_CLUSTERS, "PUT"), target.scope)
    return JSONResponse(
        await svc.connected_clusters.revoke_agent_credential(request_context(svc, caller), target.scope)
    )


async def _cancel_job(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(caller, action_for(JOBS, "POST", action="cancel"), target.scope)
    return JSONResponse(await svc.jobs.cancel(request_context(svc, caller), target.scope), status_code=202)


async def _list_storage_keys(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(caller, action_for(STORAGE_ACCOUNTS, "POST", action="listKeys"), target.scope)
    return JSONResponse(await svc.storage_accounts.list_keys(request_context(svc, caller), target.scope))


async def _list_datastore_secrets(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(caller, action_for(DATASTORES, "POST", action="listSecrets"), target.scope)
    datastores = svc.providers.for_type(DATASTORES)
    assert isinstance(datastores, Datastores)
    return JSONResponse(await datastores.list_secrets(request_context(svc, caller), target.scope))


async def _start_pending_upload(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    await svc.authorizer.authorize(caller, action_for(CODE_VERSIONS, "PUT"), target.scope)
    codes = svc.providers.for_type(CODE_VERSIONS)
    assert isinstance(codes, CodeVersions)
    body = await json_body(request, svc) if await request.body() else None
    return JSONResponse(await codes.start_pending_upload(request_context(svc, caller), target.scope, body))


_ACTIONS: dict[str, ActionHandler] = {
    "microsoft.authorization/checkaccess": _check_access,
    f"{MANAGED_CLUSTERS}/listClusterAdminCredential".lower(): _list_cluster_admin_credential,
    f"{MANAGED_CLUSTERS}/listClusterUserCredential".lower(): _list_cluster_user_credential,
    f"{CONNECTED_CLUSTERS}/issueAgentCredential".lower(): _issue_agent_credential,
    f"{CONNECTED_CLUSTERS}/revokeAgentCredential".lower(): _revoke_agent_credential,
    f"{COMPUTES}/preflight".lower(): run_preflight,
    f"{JOBS}/cancel".lower(): _cancel_job,
    f"{STORAGE_ACCOUNTS}/listKeys".lower(): _list_storage_keys,
    f"{DATASTORES}/listSecrets".lower(): _list_datastore_secrets,
    f"{CODE_VERSIONS}/startPendingUpload".lower(): _start_pending_upload,
}


async def run_action(request: Request, svc: Services, caller: Caller, target: ArmPath) -> Response:
    assert target.collection_type is not None
    handler = _ACTIONS.get(target.collection_type.lower())
    if handler is None:
        raise InvalidRequest(
            f"The action '{target.collection_type}' is not supported on '{target.scope}'.", code="InvalidAction"
        )
    return await handler(request, svc, caller, target)
