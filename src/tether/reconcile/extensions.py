"""Finishes ML-extension installs, updates and removals in the cluster (directly or through the relay).

Install and uninstall are idempotent, so a retried step is safe. An unreachable cluster is retried a
few times, then the operation fails saying so; ``forceDelete`` removes the record without touching
an unreachable cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tether.authz.service import AssignmentIndex
from tether.domain import resource_types as rt
from tether.domain.ids import parse_resource_id
from tether.domain.models.extensions import ClusterExtensionRecord, ExtensionHealthReport, HealthStatus
from tether.domain.operations import Operation
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import NotFound, TetherError, Unavailable
from tether.kube.access import ClusterAccess
from tether.kube.extension_install import install, uninstall
from tether.providers.extensions import config_of
from tether.providers.relays import ensure_relay, remove_relay
from tether.reconcile.errors import PermanentError, TemporaryError
from tether.reconcile.resource_groups import delete_tree, mark_failed
from tether.store import Session, Store, resources

_ATTEMPTS = 3


@dataclass(frozen=True)
class InstallOutcome:
    version: str | None
    namespace: str | None
    operator_mode: str | None


class ExtensionOperations:
    resource_types: tuple[str, ...] = (rt.EXTENSIONS,)

    def __init__(self, *, store: Store, access: ClusterAccess, assignments: AssignmentIndex) -> None:
        self._store = store
        self._access = access
        self._assignments = assignments

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        async with self._store.transaction() as session:
            row = await resources.get_by_key(session, operation.resource_key)
        if row is None:
            return InstallOutcome(None, None, None)
        cluster_id = parse_resource_id(row.id).parent
        assert cluster_id is not None
        connected = cluster_id.full_type == rt.CONNECTED_CLUSTERS
        record = resources.read_properties(row, ClusterExtensionRecord)
        config = config_of(record.spec)
        if operation.kind is OperationKind.DELETE and record.private.force_delete:
            return InstallOutcome(None, None, None)
        try:
            async with self._access.connect(cluster_id.key, connected=connected, timeout_s=30) as connection:
                if operation.kind is OperationKind.DELETE:
                    await uninstall(connection.kube, config)
                    return InstallOutcome(None, None, None)
                result = await install(connection.kube, config)
                return InstallOutcome(result.version, result.namespace, result.operator_mode)
        except Unavailable as e:
            if operation.attempts < _ATTEMPTS:
                raise TemporaryError(str(e), delay_s=2.0) from e
            if operation.kind is OperationKind.DELETE:
                e = Unavailable(
                    f"{e.message} The extension was not removed from the cluster; retry when it is reachable, or "
                    "remove only Tether's record with: tether k8s-extension delete ... --force",
                    code=e.code,
                )
            raise PermanentError(e) from e

    async def apply(self, session: Session, operation: Operation, result: Any) -> None:
        row = await resources.get_by_key(session, operation.resource_key)
        if row is None:
            return
        cluster_id = parse_resource_id(row.id).parent
        assert cluster_id is not None
        cluster = await resources.get(session, cluster_id)
        if operation.kind == OperationKind.DELETE.value:
            if cluster is not None and cluster.type == rt.CONNECTED_CLUSTERS:
                await remove_relay(session, cluster)
            await delete_tree(session, row.key)
            return
        if cluster is None:
            raise NotFound(f"The cluster of extension {row.id} no longer exists.", code="ClusterNotFound")
        record = resources.read_properties(row, ClusterExtensionRecord)
        settings = dict(record.spec.configuration_settings)
        if cluster.type == rt.CONNECTED_CLUSTERS:
            connection = await ensure_relay(session, cluster, principal_id=row.created_by)
            settings["relayserver.hybridConnectionResourceID"] = str(connection)
            settings["relayserver.hybridConnectionName"] = connection.name
        assert isinstance(result, InstallOutcome)
        waiting = ExtensionHealthReport(
            status=HealthStatus.UNKNOWN, reason="waiting for the operator's first heartbeat"
        )
        state = {"installed_version": result.version, "operator_mode": result.operator_mode, "health": waiting}
        spec = record.spec.model_copy(update={"configuration_settings": settings})
        installed = record.model_copy(update={"spec": spec, "state": record.state.model_copy(update=state)})
        await resources.update(session, row, properties=installed, state=ProvisioningState.SUCCEEDED)

    async def fail(self, session: Session, operation: Operation, error: TetherError) -> None:
        await mark_failed(session, operation, error)

    async def after_commit(self, operation: Operation) -> None:
        if operation.kind is OperationKind.DELETE:
            self._assignments.invalidate()
