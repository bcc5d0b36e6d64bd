"""Studio pages for workspaces and their Kubernetes computes: the list, the attach form with its Check
(the attach preflight, B1), a compute's detail with the identity pencil (S14), the access check (B6)
and detach with confirmation.

Each page acts as the signed-in user through ``tether.studio.arm`` (the API's authorization and
providers); buttons the user may not use are left out, and a post the user may not make is refused
with the API's error. Forms are plain HTML posts with the session's CSRF token; a compute whose
operation is running refreshes itself until it reaches a final state.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from tether.api.attach_preflight import preflight_answer
from tether.api.errors import status_of
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId, parse_resource_id
from tether.errors import InvalidRequest, TetherError
from tether.protocol.answers import ComputeAnswer, ConnectedClusterAnswer, ExtensionAnswer, read_answer
from tether.protocol.authorization import CheckAccessRequest
from tether.providers.access_checks import check_access
from tether.studio import arm
from tether.studio.web import Studio, form_with_csrf, page, render, signed_in

router = APIRouter(prefix="/studio")

_WS = "/workspaces/{sub}/{rg}/{ws}"
_FINAL = {"Succeeded", "Failed", "Canceled"}
ACCESS_CHECKS = {
    "pull": ("Pull images from a container registry", "Microsoft.ContainerRegistry/registries/pull/read", False),
    "read": ("Read blobs", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", True),
    "write": ("Write blobs", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", True),
}


def workspace_id(sub: str, rg: str, ws: str) -> ResourceId:
    return ResourceId.resource(sub, rg, rt.WORKSPACES, ws)


def compute_id(sub: str, rg: str, ws: str, name: str) -> ResourceId:
    return ResourceId.resource(sub, rg, rt.COMPUTES, ws, name)


def workspace_link(workspace: ResourceId) -> str:
    return f"/studio/workspaces/{workspace.subscription_id}/{workspace.resource_group}/{workspace.name}"


def compute_row(compute: dict[str, Any]) -> dict[str, Any]:
    """What the compute list shows of a compute."""
    properties = read_answer(ComputeAnswer, compute, what=f"compute '{compute.get('name')}'").properties
    cluster = parse_resource_id(properties.resourceId)
    identity = compute.get("identity") or {"type": "None"}
    return {
        "name": compute["name"],
        "state": properties.provisioningState,
        "cluster": cluster.name,
        "cluster_kind": "Connected" if cluster.full_type == rt.CONNECTED_CLUSTERS else "Managed",
        "namespace": properties.properties.namespace,
        "identity": identity_label(identity),
        "instance_types": sorted(properties.properties.instanceTypes),
    }


def identity_label(identity: dict[str, Any]) -> str:
    kind = str(identity.get("type", "None"))
    if kind == "UserAssigned":
        names = [parse_resource_id(i).name for i in identity.get("userAssignedIdentities") or {}]
        return f"User-assigned: {', '.join(names)}"
    return {"SystemAssigned": "System-assigned", "None": "None"}.get(kind, kind)


def identity_principal(identity: dict[str, Any]) -> str | None:
    if identity.get("type") == "SystemAssigned":
        return str(identity.get("principalId") or "") or None
    for value in (identity.get("userAssignedIdentities") or {}).values():
        return str(value.get("principalId"))
    return None


@router.get("")
async def home() -> Response:
    return RedirectResponse("/studio/workspaces", status_code=303)


@router.get("/workspaces")
@page
async def workspaces(request: Request) -> Response:
    studio = await signed_in(request)
    found = await arm.visible(studio, rt.WORKSPACES)
    rows = [{"name": w["name"], "link": workspace_link(parse_resource_id(w["id"])), **w} for w in found]
    return render(request, "workspaces.html", studio=studio, workspaces=rows)


@router.get(_WS + "/computes")
@page
async def computes(sub: str, rg: str, ws: str, request: Request) -> Response:
    studio = await signed_in(request)
    workspace = workspace_id(sub, rg, ws)
    found = await arm.list_in(studio, workspace, rt.COMPUTES)
    return render(
        request,
        "computes.html",
        studio=studio,
        workspace=workspace,
        base=workspace_link(workspace),
        computes=[compute_row(c) for c in found],
        can_attach=await arm.may(studio, rt.COMPUTES, "PUT", workspace),
        tab="computes",
    )


async def clusters_with_extensions(studio: Studio) -> list[dict[str, Any]]:
    """Managed and connected clusters the user can read, each with its ML extension's state."""
    rows = []
    for full_type in (rt.MANAGED_CLUSTERS, rt.CONNECTED_CLUSTERS):
        for cluster in await arm.visible(studio, full_type):
            cluster_id = parse_resource_id(cluster["id"])
            extension: dict[str, Any] | None = None
            try:
                extensions = await arm.list_in(studio, cluster_id, rt.EXTENSIONS)
                extension = next(iter(extensions), None)
            except TetherError:
                extension = None
            found = read_answer(ExtensionAnswer, extension, what="ML extension") if extension else None
            connectivity = read_answer(ConnectedClusterAnswer, cluster, what=f"cluster '{cluster_id.name}'")
            rows.append(
                {
                    "id": cluster["id"],
                    "name": cluster["name"],
                    "resource_group": cluster_id.resource_group,
                    "kind": "Connected" if full_type == rt.CONNECTED_CLUSTERS else "Managed",
                    "connectivity": connectivity.properties.connectivityStatus
                    or ("Direct" if full_type == rt.MANAGED_CLUSTERS else "Unknown"),
                    "extension": found.properties.provisioningState if found else None,
                    "health": found.properties.health.get("status") if found else None,
                    "health_reason": found.properties.health.get("reason") if found else None,
                }
            )
    return rows


def attach_body(fields: dict[str, str]) -> dict[str, Any]:
    """The ARM attach body from the form's fields (the same body ``tether ml compute attach`` sends)."""
    kind = fields.get("identity_type", "None")
    identity: dict[str, Any] = {"type": kind}
    if kind == "UserAssigned":
        chosen = fields.get("user_identity", "")
        if not chosen:
            raise InvalidRequest("Pick the user-assigned identity the compute acts as.", code="InvalidIdentityType")
        identity["userAssignedIdentities"] = {chosen: {}}
    return {
        "identity": identity,
        "properties": {
            "computeType": "Kubernetes",
            "resourceId": fields.get("cluster", ""),
            "properties": {"namespace": fields.get("namespace", "").strip() or "default"},
        },
    }


async def _attach_page(
    request: Request, studio: Studio, workspace: ResourceId, *, fields: dict[str, str], status: int = 200, **extra: Any
) -> Response:
    return render(
        request,
        "attach.html",
        status=status,
        studio=studio,
        workspace=workspace,
        base=workspace_link(workspace),
        clusters=await clusters_with_extensions(studio),
        identities=await arm.visible(studio, rt.USER_ASSIGNED_IDENTITIES),
        fields={"namespace": "default", "identity_type": "SystemAssigned", **fields},
        can_attach=await arm.may(studio, rt.COMPUTES, "PUT", workspace),
        tab="computes",
        **extra,
    )


@router.get(_WS + "/computes/attach")
@page
async def attach_form(sub: str, rg: str, ws: str, request: Request) -> Response:
    studio = await signed_in(request)
    workspace = workspace_id(sub, rg, ws)
    await arm.get(studio, workspace)
    return await _attach_page(request, studio, workspace, fields={})


@router.post(_WS + "/computes/attach")
@page
async def attach(sub: str, rg: str, ws: str, request: Request) -> Response:
    studio = await signed_in(request)
    fields = await form_with_csrf(request, studio)
    workspace = workspace_id(sub, rg, ws)
    name = fields.get("name", "").strip()
    try:
        if not name:
            raise InvalidRequest("Give the compute a name.", code="InvalidComputeName")
        target = compute_id(sub, rg, ws, name)
        if fields.get("action") == "check":
            checks = await preflight_answer(studio.svc, studio.caller, target, attach_body(fields))
            return await _attach_page(request, studio, workspace, fields=fields, preflight=checks)
        await arm.put(studio, target, attach_body(fields))
    except TetherError as e:
        return await _attach_page(request, studio, workspace, fields=fields, status=status_of(e), error=e)
    return RedirectResponse(f"{workspace_link(workspace)}/computes/{name}", status_code=303)


@router.get(_WS + "/computes/{name}")
@page
async def compute_detail(sub: str, rg: str, ws: str, name: str, request: Request) -> Response:
    studio = await signed_in(request)
    return await _detail_page(request, studio, compute_id(sub, rg, ws, name))


async def _detail_page(request: Request, studio: Studio, target: ResourceId, **extra: Any) -> Response:
    compute = await arm.get(studio, target)
    workspace = target.parent
    assert workspace is not None
    identity = compute.get("identity") or {"type": "None"}
    principal = identity_principal(identity)
    assignments: list[dict[str, Any]] | None = None
    if principal:
        # The whole subscription if the user may read its assignments, else those at, above and under the
        # compute's resource group (what an Owner or Reader of the group may see).
        params = {"$filter": f"principalId eq '{principal}'"}
        for scope in (ResourceId(target.subscription_id), ResourceId(target.subscription_id, target.resource_group)):
            try:
                assignments = await arm.list_in(studio, scope, rt.ROLE_ASSIGNMENTS, params=params)
                break
            except TetherError:
                continue
    state = read_answer(ComputeAnswer, compute, what=f"compute '{target.name}'").properties.provisioningState
    return render(
        request,
        "compute.html",
        studio=studio,
        workspace=workspace,
        base=workspace_link(workspace),
        compute=compute,
        row=compute_row(compute),
        identity=identity,
        principal=principal,
        assignments=assignments,
        refresh=state not in _FINAL,
        can_change=await arm.may(studio, rt.COMPUTES, "PUT", target),
        can_detach=await arm.may(studio, rt.COMPUTES, "DELETE", target),
        checks=ACCESS_CHECKS,
        tab="computes",
        **extra,
    )


@router.get(_WS + "/computes/{name}/identity")
@page
async def identity_form(sub: str, rg: str, ws: str, name: str, request: Request) -> Response:
    studio = await signed_in(request)
    target = compute_id(sub, rg, ws, name)
    compute = await arm.get(studio, target)
    workspace = workspace_id(sub, rg, ws)
    return render(
        request,
        "identity.html",
        studio=studio,
        workspace=workspace,
        base=workspace_link(workspace),
        compute=compute,
        identity=compute.get("identity") or {"type": "None"},
        identities=await arm.visible(studio, rt.USER_ASSIGNED_IDENTITIES),
        tab="computes",
    )


@router.post(_WS + "/computes/{name}/identity")
@page
async def change_identity(sub: str, rg: str, ws: str, name: str, request: Request) -> Response:
    studio = await signed_in(request)
    fields = await form_with_csrf(request, studio)
    target = compute_id(sub, rg, ws, name)
    current = read_answer(ComputeAnswer, await arm.get(studio, target), what=f"compute '{name}'").properties
    body = attach_body(
        {
            **fields,
            "cluster": current.resourceId,
            "namespace": current.properties.namespace,
        }
    )
    await arm.put(studio, target, body)
    return RedirectResponse(f"{workspace_link(workspace_id(sub, rg, ws))}/computes/{name}", status_code=303)


@router.post(_WS + "/computes/{name}/check-access")
@page
async def check_compute_access(sub: str, rg: str, ws: str, name: str, request: Request) -> Response:
    studio = await signed_in(request)
    fields = await form_with_csrf(request, studio)
    target = compute_id(sub, rg, ws, name)
    compute = await arm.get(studio, target)
    principal = identity_principal(compute.get("identity") or {})
    what = ACCESS_CHECKS.get(fields.get("check", ""))
    if principal is None or what is None:
        raise InvalidRequest("The compute has no identity to check, or the check is unknown.", code="InvalidRequest")
    scope = parse_resource_id(fields.get("scope", "").strip())
    await studio.svc.authorizer.authorize(studio.caller, "Microsoft.Authorization/roleAssignments/read", scope)
    answer = await check_access(
        studio.ctx, scope, CheckAccessRequest(principalId=principal, action=what[1], isDataAction=what[2])
    )
    return await _detail_page(request, studio, target, access=answer, access_label=what[0], access_scope=str(scope))


@router.post(_WS + "/computes/{name}/detach")
@page
async def detach(sub: str, rg: str, ws: str, name: str, request: Request) -> Response:
    studio = await signed_in(request)
    fields = await form_with_csrf(request, studio)
    target = compute_id(sub, rg, ws, name)
    workspace = workspace_id(sub, rg, ws)
    if fields.get("confirm") != name:
        compute = await arm.get(studio, target)
        return render(
            request,
            "detach.html",
            studio=studio,
            workspace=workspace,
            base=workspace_link(workspace),
            compute=compute,
            mismatch="confirm" in fields,
            tab="computes",
        )
    await arm.delete(studio, target, {"underlyingResourceAction": "Detach"})
    return RedirectResponse(f"{workspace_link(workspace)}/computes", status_code=303)
