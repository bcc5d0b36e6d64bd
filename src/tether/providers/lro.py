"""Starting long-running operations on resources with a provisioning state: the state change and the
operation in one transaction."""

from __future__ import annotations

from tether.domain.resources import Resource
from tether.domain.states import OperationKind, ProvisioningState
from tether.providers.base import OperationStarter, StartedOperation
from tether.store import Session, operations, resources

_STATE_FOR_KIND = {
    OperationKind.CREATE: ProvisioningState.CREATING,
    OperationKind.UPDATE: ProvisioningState.UPDATING,
    OperationKind.DELETE: ProvisioningState.DELETING,
}


async def start(
    session: Session, resource: Resource, kind: OperationKind, *, principal_id: str, starter: OperationStarter
) -> tuple[Resource, StartedOperation]:
    """Move ``resource`` into the busy state for ``kind`` and start the operation (``starter.run`` it after
    the commit). A delete supersedes any create or update still running on the resource. Answers the
    resource as now stored (in its busy state) and the started operation."""
    if kind is OperationKind.DELETE:
        await operations.cancel_in_progress(session, resource.key, reason="Superseded by a delete of the resource.")
    resource = await resources.update(session, resource, state=_STATE_FOR_KIND[kind], principal_id=principal_id)
    return resource, await starter.start(session, resource, kind)
