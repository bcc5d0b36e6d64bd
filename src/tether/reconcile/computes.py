"""Finishes attaches and identity updates of compute targets.

An attach runs the pipeline of ``reconcile.attach`` as the workspace identity (network outside any
transaction), then, in the lease-checked transaction, creates or binds the compute identity (S9: a
system-assigned one is the principal named ``<workspace>/computes/<compute>``), records the cluster's
instance types and marks the compute ``Succeeded``. A failure marks it ``Failed`` with
``provisioningErrors`` naming the step, the role, the scope and the fix.
"""

from __future__ import annotations

from typing import Any

from tether.authz.service import Authorizer
from tether.domain import resource_types as rt
from tether.domain.ids import parse_resource_id
from tether.domain.models.computes import AttachedCluster, ComputeRecord, ComputeState
from tether.domain.operations import Operation
from tether.domain.principals import PrincipalKind
from tether.domain.resources import Resource
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import TetherError
from tether.kube.access import ClusterAccess
from tether.reconcile.attach import AttachFacts, AttachFailed, attach, load_target
from tether.reconcile.engine import error_body
from tether.reconcile.errors import PermanentError, TemporaryError
from tether.store import Session, Store, principals, resources, role_assignments, tenancy

_REACH_ATTEMPTS = 2


def compute_identity_name(compute: Resource) -> str:
    """S9: ``<workspace name>/computes/<compute name>``."""
    workspace = compute.id.split("/")[8]
    return f"{workspace}/computes/{compute.name}"


async def _bind_identity(session: Session, row: Resource) -> tuple[dict[str, Any] | None, list[str]]:
    """Make the compute's principals what was asked; returns the identity to store and the object ids of
    principals removed."""
    asked = resources.read_properties(row, ComputeRecord).private.identity_request
    wanted = asked.type
    existing = await principals.get_by_resource(session, row.key)
    removed: list[str] = []
    identity = row.identity
    if wanted != "SystemAssigned" and existing is not None:
        await role_assignments.delete_for_principal(session, existing.object_id)
        await principals.delete(session, existing.object_id)
        removed.append(existing.object_id)
    if wanted == "SystemAssigned":
        principal = existing
        if principal is None:
            subscription = await tenancy.get_subscription(session, row.subscription_id)
            assert subscription is not None
            principal = await principals.create(
                session,
                tenant_id=subscription.tenant_id,
                kind=PrincipalKind.SYSTEM_ASSIGNED_IDENTITY.value,
                display_name=compute_identity_name(row),
                resource_key=row.key,
            )
        identity = {"type": "SystemAssigned", "principalId": principal.object_id, "tenantId": principal.tenant_id}
    elif wanted == "UserAssigned":
        identity = asked.block  # validated when the request came in
    elif wanted == "None":
        identity = None
    return identity, removed


class ComputeOperations:
    resource_types: tuple[str, ...] = (rt.COMPUTES,)

    def __init__(self, *, store: Store, authz: Authorizer, access: ClusterAccess, step_deadline_s: float) -> None:
        self._store = store
        self._authz = authz
        self._access = access
        self._deadline_s = step_deadline_s

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        if operation.kind is not OperationKind.CREATE:
            return None  # an update changes only the identity, which needs no network
        async with self._store.transaction() as session:
            row = await resources.get_by_key(session, operation.resource_key)
            if row is None:
                return None
            record = resources.read_properties(row, ComputeRecord)
            target = await load_target(
                session,
                compute_id=parse_resource_id(row.id),
                cluster_id=parse_resource_id(record.spec.resource_id),
                namespace=record.spec.namespace,
            )
        try:
            return await attach(
                self._authz,
                self._access,
                target=target,
                deadline_s=self._deadline_s,
                create_instance_types=record.private.requested_instance_types,
            )
        except AttachFailed as e:
            if e.retryable and operation.attempts < _REACH_ATTEMPTS:
                raise TemporaryError(str(e.error), delay_s=1.0) from e.error
            raise PermanentError(e.error) from e.error

    async def apply(self, session: Session, operation: Operation, result: Any) -> None:
        row = await resources.get_by_key(session, operation.resource_key)
        if row is None:
            return
        identity, _ = await _bind_identity(session, row)
        properties = None
        if isinstance(result, AttachFacts):
            attached = AttachedCluster(
                instance_types=result.instance_types or None,
                extension_principal_id=result.extension_principal_id,
                extension_instance_release_train=result.release_train,
            )
            record = resources.read_properties(row, ComputeRecord)
            state = ComputeState(attached=attached, provisioning_errors=None)
            properties = record.model_copy(update={"state": state})
        await resources.update(
            session, row, identity=identity, properties=properties, state=ProvisioningState.SUCCEEDED
        )

    async def fail(self, session: Session, operation: Operation, error: TetherError) -> None:
        row = await resources.get_by_key(session, operation.resource_key)
        if row is None:
            return
        record = resources.read_properties(row, ComputeRecord)
        errors = [{"error": {**error_body(error), "details": []}}]
        state = record.state.model_copy(update={"provisioning_errors": errors})
        await resources.update(
            session, row, properties=record.model_copy(update={"state": state}), state=ProvisioningState.FAILED
        )

    async def after_commit(self, operation: Operation) -> None:
        self._authz.index.invalidate()
