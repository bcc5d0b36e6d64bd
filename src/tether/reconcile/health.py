"""Keeps each ML extension's ``health`` (and instance types) current from the operator's heartbeat.

Every ``interval_s`` it reads each installed extension's health through the cluster access (direct
or relay) outside any transaction, then writes the verdict in a short one. An unreachable cluster
is reported as such, not as an unhealthy operator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from tether.domain import resource_types as rt
from tether.domain.ids import parse_resource_id
from tether.domain.models.extensions import ClusterExtensionRecord, ExtensionHealthReport, HealthCheck, HealthStatus
from tether.domain.states import ProvisioningState
from tether.errors import TetherError
from tether.kube.access import ClusterAccess
from tether.kube.extension_status import ExtensionHealth, read_health
from tether.providers.envelope import rfc3339
from tether.reconcile.stopping import cancel_until_done
from tether.store import Store, resources

log = logging.getLogger(__name__)


def health_update(health: ExtensionHealth) -> dict[str, Any]:
    """The extension state's changes (``ExtensionState`` fields) for the operator's verdict ``health``."""
    status = health.status
    report = ExtensionHealthReport(
        status=HealthStatus.HEALTHY if health.healthy else HealthStatus.UNHEALTHY,
        reason=health.reason,
        heartbeat_age_seconds=None if health.heartbeat_age_s is None else round(health.heartbeat_age_s, 1),
        operator=health.holder,
        training_enabled=health.training_enabled,
        checks=[HealthCheck(name=c.name, ok=c.ok, message=c.message) for c in status.checks] if status else [],
        checked_at=rfc3339(dt.datetime.now(dt.UTC)),
    )
    return {"health": report, "instance_types": {t.name: t.to_arm() for t in health.instance_types}}


class HealthMonitor:
    def __init__(self, *, store: Store, access: ClusterAccess, interval_s: float = 5.0) -> None:
        self._store = store
        self._access = access
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="extension health")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            await cancel_until_done([task])

    async def _run(self) -> None:
        while True:
            await self.check_all()
            await asyncio.sleep(self._interval_s)

    async def check_all(self) -> None:
        async with self._store.transaction() as session:
            rows = await resources.list_all_of_type(session, rt.EXTENSIONS)
            installed = [(r.key, r.id) for r in rows if r.provisioning_state == ProvisioningState.SUCCEEDED.value]
        for key, resource_id in installed:
            await self.check(key, resource_id)

    async def check(self, extension_key: str, extension_id: str) -> None:
        cluster_id = parse_resource_id(extension_id).parent
        assert cluster_id is not None
        try:
            async with self._access.connect(
                cluster_id.key, connected=cluster_id.full_type == rt.CONNECTED_CLUSTERS, timeout_s=5
            ) as connection:
                update = health_update(await read_health(connection.kube))
        except TetherError as e:
            unreachable = ExtensionHealthReport(
                status=HealthStatus.UNKNOWN,
                reason=f"cannot reach the cluster: {e.message}",
                checked_at=rfc3339(dt.datetime.now(dt.UTC)),
            )
            update = {"health": unreachable}
        async with self._store.transaction() as session:
            row = await resources.get_by_key(session, extension_key, for_update=True)
            if row is not None and row.provisioning_state == ProvisioningState.SUCCEEDED.value:
                record = resources.read_properties(row, ClusterExtensionRecord)
                checked = record.model_copy(update={"state": record.state.model_copy(update=update)})
                await resources.update(session, row, properties=checked)
