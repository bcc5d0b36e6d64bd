"""Finishes resource-group deletes: the group, everything in it, and the identities those resources owned."""

from __future__ import annotations

from typing import Any

from tether.authz.service import AssignmentIndex
from tether.domain import resource_types as rt
from tether.domain.operations import Operation
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import TetherError
from tether.store import Session, principals, resources, role_assignments


async def delete_tree(session: Session, resource_key: str) -> None:
    """Remove a resource, everything under it, the managed identities they owned (with those identities'
    role assignments anywhere), and role assignments scoped to any of them."""
    for object_id in await principals.delete_owned_within(session, resource_key):
        await role_assignments.delete_for_principal(session, object_id)
    await role_assignments.delete_within(session, resource_key)
    await resources.delete_tree_by_key(session, resource_key)


async def mark_failed(session: Session, operation: Operation, error: TetherError) -> None:
    """Leave the resource ``Failed`` with the error on record (shared by simple handlers)."""
    del error  # the operation row carries it; the resource only changes state
    row = await resources.get_by_key(session, operation.resource_key)
    if row is not None:
        await resources.update(session, row, state=ProvisioningState.FAILED)


class DeletesInvalidateAccess:
    """After a delete commits, forget every principal's cached assignments: the delete removed some."""

    def __init__(self, *, assignments: AssignmentIndex) -> None:
        self._assignments = assignments

    async def after_commit(self, operation: Operation) -> None:
        if operation.kind is OperationKind.DELETE:
            self._assignments.invalidate()


class ResourceGroupOperations(DeletesInvalidateAccess):
    resource_types: tuple[str, ...] = (rt.RESOURCE_GROUPS,)

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        return None

    async def apply(self, session: Session, operation: Operation, result: Any) -> None:
        await delete_tree(session, operation.resource_key)

    async def fail(self, session: Session, operation: Operation, error: TetherError) -> None:
        await mark_failed(session, operation, error)
