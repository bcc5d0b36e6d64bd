"""Finishes workspace creates (making the system-assigned identity) and deletes."""

from __future__ import annotations

from typing import Any

from tether.domain import resource_types as rt
from tether.domain.operations import Operation
from tether.domain.principals import PrincipalKind
from tether.domain.resources import Resource
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import TetherError
from tether.reconcile.resource_groups import DeletesInvalidateAccess, delete_tree, mark_failed
from tether.store import Session, principals, resources, tenancy


async def _system_identity(session: Session, row: Resource) -> dict[str, Any] | None:
    """The workspace's identity, with its system-assigned principal (named after the workspace) created if
    it has none yet."""
    if (row.identity or {}).get("type") != "SystemAssigned" or (row.identity or {}).get("principalId"):
        return row.identity
    subscription = await tenancy.get_subscription(session, row.subscription_id)
    if subscription is None:
        raise TetherError(f"Subscription {row.subscription_id} of {row.id} vanished.")
    principal = await principals.get_by_resource(session, row.key) or await principals.create(
        session,
        tenant_id=subscription.tenant_id,
        kind=PrincipalKind.SYSTEM_ASSIGNED_IDENTITY.value,
        display_name=row.name,
        resource_key=row.key,
    )
    return {
        "type": "SystemAssigned",
        "principalId": principal.object_id,
        "tenantId": principal.tenant_id,
    }


class WorkspaceOperations(DeletesInvalidateAccess):
    resource_types: tuple[str, ...] = (rt.WORKSPACES,)

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        return None

    async def apply(self, session: Session, operation: Operation, result: Any) -> None:
        if operation.kind == OperationKind.DELETE.value:
            await delete_tree(session, operation.resource_key)
            return
        row = await resources.get_by_key(session, operation.resource_key)
        if row is None:  # deleted while being created; the delete's operation reports it
            return
        identity = await _system_identity(session, row)
        await resources.update(session, row, identity=identity, state=ProvisioningState.SUCCEEDED)

    async def fail(self, session: Session, operation: Operation, error: TetherError) -> None:
        await mark_failed(session, operation, error)
