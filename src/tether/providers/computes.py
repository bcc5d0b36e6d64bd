"""Compute targets of kind Kubernetes: attach (PUT), update (re-PUT: identity), show, list, detach (DELETE).

An attach is a long-running operation finished by the attach reconciler (reconcile/attach.py), which
acts as the workspace identity. This provider only validates, applies S10's automatic grants, and
writes desired state. The namespace is checked for format (RFC 1123) but neither created nor looked
up (S7). Detaching removes only Tether's compute object and the compute's system-assigned identity;
the cluster and the other computes on it are untouched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId, parse_resource_id, parse_typed_id
from tether.domain.models.computes import ComputePrivate, ComputeRecord, ComputeSpec, RequestedIdentity
from tether.domain.models.extensions import ClusterExtensionRecord
from tether.domain.names import validate_kubernetes_namespace, validate_name
from tether.domain.resources import Resource
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.identity.managed import parse_identity_type, user_assigned_principal
from tether.protocol.computes import (
    CreateComputeRequest,
    compute_properties,
    offered_instance_types,
    with_extension_health,
)
from tether.providers import lro
from tether.providers.base import DeleteResult, Page, RequestContext, StartedOperation, WriteResult
from tether.providers.compute_grants import Granted, grant_attach_roles
from tether.providers.compute_instance_types import requested_instance_types
from tether.providers.envelope import envelope, parse_body, rfc3339
from tether.providers.jobs import active_jobs_on
from tether.providers.reads import read_page, read_row
from tether.providers.workspaces import not_found as workspace_not_found
from tether.store import Session, principals, resources, role_assignments

GRANTS_HEADER = "x-tether-role-assignments-created"


def answer(row: Resource) -> dict[str, Any]:
    body = envelope(
        row,
        properties=compute_properties(
            resources.read_properties(row, ComputeRecord),
            location=row.location,
            provisioning_state=row.provisioning_state,
            created_on=rfc3339(row.created_at),
            modified_on=rfc3339(row.modified_at),
        ),
    )
    body["identity"] = row.identity or {"type": "None"}
    return body


def not_found(resource_id: ResourceId) -> NotFound:
    workspace = resource_id.parent.name if resource_id.parent else "?"
    return NotFound(
        f"Compute '{resource_id.name}' was not found in workspace '{workspace}'. "
        f"List computes with: tether ml compute list -w {workspace} -g {resource_id.resource_group}",
        code="ComputeNotFound",
    )


def _requested_identity(request: CreateComputeRequest) -> tuple[str, list[str]]:
    if request.identity is None:
        return "None", []
    kind = parse_identity_type(request.identity.type)
    ids = list((request.identity.userAssignedIdentities or {}).keys())
    if kind == "UserAssigned" and not ids:
        raise InvalidRequest(
            "identity.type is UserAssigned but identity.userAssignedIdentities names no identity.",
            code="InvalidIdentityType",
            target="identity.userAssignedIdentities",
        )
    return kind, ids


async def _identity_block(session: Session, kind: str, ids: list[str]) -> dict[str, Any] | None:
    """What the compute will act as; user-assigned identities are checked now (first one used, S8)."""
    if kind == "None":
        return None
    if kind == "SystemAssigned":
        return {"type": "SystemAssigned"}
    principal = await user_assigned_principal(session, ids[0])
    return {
        "type": "UserAssigned",
        "userAssignedIdentities": {
            str(parse_typed_id(ids[0], expected_types=(rt.USER_ASSIGNED_IDENTITIES,), what="identity")): {
                "principalId": principal.object_id,
                "clientId": principal.app_id,
            }
        },
    }


@dataclass(frozen=True)
class AttachRequest:
    """A validated attach body."""

    request: CreateComputeRequest
    cluster_id: ResourceId
    namespace: str
    identity_kind: str
    identity_ids: list[str]


def validate_attach(resource_id: ResourceId, body: Any) -> AttachRequest:
    """Validate an attach (or dry-run) body: compute type, cluster id, namespace format, identity."""
    request = parse_body(CreateComputeRequest, body)
    validate_name(rt.COMPUTES, resource_id.name)
    compute = request.properties
    if compute.computeType.lower() != "kubernetes":
        raise InvalidRequest(
            f"computeType '{compute.computeType}' is not supported: Tether attaches Kubernetes computes.",
            code="InvalidComputeType",
            target="properties.computeType",
        )
    if not compute.resourceId:
        raise InvalidRequest(
            "properties.resourceId is required: the id of the managed or connected cluster to attach.",
            code="InvalidResourceId",
            target="properties.resourceId",
        )
    cluster_id = parse_typed_id(
        compute.resourceId, expected_types=(rt.MANAGED_CLUSTERS, rt.CONNECTED_CLUSTERS), what="resourceId"
    )
    namespace = validate_kubernetes_namespace(
        (compute.properties.namespace if compute.properties else None) or "default"
    )
    kind, identity_ids = _requested_identity(request)
    return AttachRequest(request, cluster_id, namespace, kind, identity_ids)


async def _grant_if_possible(
    ctx: RequestContext, session: Session, *, workspace: Resource, cluster_id: ResourceId
) -> list[Granted]:
    """S10's automatic grants, for a system-assigned workspace identity and a cluster that is registered
    (never on an id that something else could be registered under later)."""
    workspace_identity = workspace.identity or {}
    if workspace_identity.get("type") != "SystemAssigned" or not workspace_identity.get("principalId"):
        return []
    if await resources.get(session, cluster_id) is None:
        return []  # the attach fails with ClusterNotFound
    return await grant_attach_roles(
        ctx, session, workspace_principal_id=workspace_identity["principalId"], cluster_id=cluster_id
    )


class Computes:
    full_type: ClassVar[str] = rt.COMPUTES

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        row = await read_row(ctx, resource_id, missing=not_found)
        body = answer(row)
        # Say what jobs on this compute would wait for: the ML extension's health, as last checked.
        async with ctx.store.transaction() as session:
            cluster_id = resources.read_properties(row, ComputeRecord).spec.resource_id
            extensions = await resources.list_children(session, parse_resource_id(cluster_id), rt.EXTENSIONS)
        health = resources.read_properties(extensions[0], ClusterExtensionRecord).state.health if extensions else None
        if health is not None:
            reported = health.model_dump(mode="json", by_alias=True)
            keys = ("status", "reason", "heartbeatAgeSeconds", "checkedAt")
            body = with_extension_health(body, {k: reported.get(k) for k in keys})
        return body

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        return await read_page(
            ctx, parent, self.full_type, offset=offset, limit=limit, render=answer, parent_missing=workspace_not_found
        )

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        attach = validate_attach(resource_id, body)
        request, compute, cluster_id = attach.request, attach.request.properties, attach.cluster_id
        namespace, kind, identity_ids = attach.namespace, attach.identity_kind, attach.identity_ids
        requested_types = requested_instance_types(compute.properties)
        spec = ComputeSpec(
            resource_id=str(cluster_id),
            namespace=namespace,
            compute_location=compute.computeLocation,
            description=compute.description,
        )
        async with ctx.store.transaction() as session:
            workspace = await resources.get(session, resource_id.parent or resource_id)
            if workspace is None:
                raise workspace_not_found(resource_id.parent or resource_id)
            if workspace.provisioning_state != ProvisioningState.SUCCEEDED.value:
                raise Conflict(
                    f"Workspace '{workspace.name}' is {workspace.provisioning_state}.", code="ConflictingOperation"
                )
            identity = await _identity_block(session, kind, identity_ids)
            asked = ComputeRecord(
                spec=spec,
                private=ComputePrivate(
                    identity_request=RequestedIdentity(
                        type=kind, ids=identity_ids[:1], block=identity if kind == "UserAssigned" else None
                    ),
                    requested_instance_types=requested_types or None,
                ),
            )
            row = await resources.get(session, resource_id, for_update=True)
            granted = await _grant_if_possible(ctx, session, workspace=workspace, cluster_id=cluster_id)
            created = row is None
            started: StartedOperation | None
            if row is not None:
                row, started = await self._update(ctx, session, row, asked, identity)
            else:
                row = await resources.insert(
                    session,
                    resource_id,
                    location=workspace.location,
                    tags=request.tags or {},
                    identity=identity,
                    properties=asked,
                    state=ProvisioningState.CREATING,
                    principal_id=ctx.caller.object_id,
                )
                row, started = await lro.start(
                    session, row, OperationKind.CREATE, principal_id=ctx.caller.object_id, starter=ctx.starter
                )
        # After the commit: a reader must not cache the grants before they exist, nor a reconciler look too early.
        if granted:
            ctx.authz.index.invalidate()
        if started is not None:
            ctx.starter.run(started)
        headers = {GRANTS_HEADER: json.dumps([g.__dict__ for g in granted])} if granted else {}
        operation_id = started.operation.id if started is not None else None
        return WriteResult(answer(row), created=created, operation_id=operation_id, headers=headers)

    async def _update(
        self,
        ctx: RequestContext,
        session: Session,
        row: Resource,
        asked: ComputeRecord,
        identity: dict[str, Any] | None,
    ) -> tuple[Resource, StartedOperation | None]:
        """A PUT of an existing compute (``asked``: the record the PUT would have created); the compute as now
        stored and the operation it started, for the caller to run after the commit, or None when only the
        description changed."""
        current = resources.read_properties(row, ComputeRecord)
        changed = [
            what
            for what, old, new in (
                ("resourceId", current.spec.resource_id, asked.spec.resource_id),
                ("namespace", current.spec.namespace, asked.spec.namespace),
            )
            if old.lower() != new.lower()
        ]
        if changed:
            raise Conflict(
                f"Compute '{row.name}' is attached with another {' and '.join(changed)}; a compute target's "
                "cluster and namespace cannot change. Detach first (tether ml compute detach -n "
                f"{row.name} ...), then attach again.",
                code="ComputeUpdateNotAllowed",
            )
        if ProvisioningState(row.provisioning_state) in (
            ProvisioningState.CREATING,
            ProvisioningState.UPDATING,
            ProvisioningState.DELETING,
        ):
            raise Conflict(
                f"Compute '{row.name}' is {row.provisioning_state}; try again when it has finished.",
                code="ConflictingOperation",
            )
        requested = asked.private.requested_instance_types
        private = current.private.model_copy(update={"identity_request": asked.private.identity_request})
        if row.provisioning_state == ProvisioningState.FAILED.value:
            # attached again with what is asked now
            private = private.model_copy(update={"requested_instance_types": requested})
        elif requested and requested != offered_instance_types(current):
            raise Conflict(
                f"Compute '{row.name}' offers other instance types; they are set when a compute is attached. Send "
                "them as the compute answers them, leave them out, or detach and attach again with the new ones.",
                code="ComputeUpdateNotAllowed",
                target="properties.properties.instanceTypes",
            )
        description = asked.spec.description or current.spec.description
        updated = current.model_copy(
            update={"spec": current.spec.model_copy(update={"description": description}), "private": private}
        )
        if row.provisioning_state == ProvisioningState.FAILED.value:
            # A failed attach PUT again is attached again: the whole pipeline runs, its checks included.
            kind = OperationKind.CREATE
        elif _kind(identity) == _kind(row.identity) and (identity or {}).get("userAssignedIdentities") == (
            row.identity or {}
        ).get("userAssignedIdentities"):
            return await resources.update(session, row, properties=updated, principal_id=ctx.caller.object_id), None
        else:
            kind = OperationKind.UPDATE
        row = await resources.update(session, row, properties=updated)
        return await lro.start(session, row, kind, principal_id=ctx.caller.object_id, starter=ctx.starter)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        action = params.get("underlyingResourceAction", "Detach")
        if action.lower() not in ("detach", "delete"):
            raise InvalidRequest(
                f"underlyingResourceAction '{action}' is not valid: use Detach or Delete (for Kubernetes computes both "
                "only remove Tether's compute object, never the cluster).",
                code="InvalidRequestContent",
            )
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            running = await active_jobs_on(session, resource_id)
            if running and params.get("force", "").lower() != "true":
                raise Conflict(
                    f"Compute '{row.name}' has {len(running)} unfinished job(s): {', '.join(sorted(running))}. "
                    "Cancel them (tether ml job cancel), or detach anyway with --force (their pods keep running "
                    "in the cluster until they end).",
                    code="ComputeHasRunningJobs",
                )
            owned = await principals.delete_owned_within(session, row.key)
            for object_id in owned:
                await role_assignments.delete_for_principal(session, object_id)
            await role_assignments.delete_within(session, row.key)
            await resources.delete_tree_by_key(session, row.key)
        for object_id in owned:
            ctx.authz.index.invalidate(object_id)
        return DeleteResult(existed=True)


def _kind(identity: dict[str, Any] | None) -> str:
    return str((identity or {}).get("type", "None"))
