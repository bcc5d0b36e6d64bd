"""Starting long-running operations on resources with a provisioning state: the state change and the
operation in one transaction."""

from __future__ import annotations

from tether.domain.states import OperationKind, ProvisioningState
from tether.providers.base import OperationStarter, StartedOperation
from tether.store import Session, operations, resources
from tether.store.tables import ResourceRow

_STATE_FOR_KIND = {
    OperationKind.CREATE: ProvisioningState.CREATING,
    OperationKind.UPDATE: ProvisioningState.UPDATING,
    OperationKind.DELETE: ProvisioningState.DELETING,
}


async def start(
    session: Session, row: ResourceRow, kind: OperationKind, *, principal_id: str, starter: OperationStarter
) -> StartedOperation:
    """Move ``row`` into the busy state for ``kind`` and start the operation (``starter.run`` it after the
    commit). A delete supersedes any create or update still running on the resource."""
    if kind is OperationKind.DELETE:
        await operations.cancel_in_progress(session, row.key, reason="Superseded by a delete of the resource.")
    resources.set_state(row, _STATE_FOR_KIND[kind])
    resources.touch(row, principal_id=principal_id)
    return await starter.start(session, row, kind)
