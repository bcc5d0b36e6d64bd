"""Carries what clusters report about dispatched jobs back into Tether: status, timeline, errors (B7).

Every ``interval_s`` it reads the TetherJobs of each cluster with unfinished jobs (one list per
namespace, outside any transaction) and applies changes in one short transaction. The timeline gets
an entry whenever the phase or its reason changes, so a job that waits says why it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from tether.domain import resource_types as rt
from tether.domain.ids import parse_resource_id
from tether.domain.jobs import PHASE_TO_STATUS, JobStatus, with_event
from tether.errors import TetherError
from tether.kube.access import ClusterAccess
from tether.kube.jobs import statuses
from tether.store import Store, resources

log = logging.getLogger(__name__)

# Timeline words for the operator's phases (B7: queued, dispatched, pod created, running, finished).
_TIMELINE_PHASE = {
    "Pending": "Waiting",
    "Starting": "PodsCreated",
    "Running": "Running",
    "Succeeded": "Completed",
    "Failed": "Failed",
    "Canceled": "Canceled",
}


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _backfill(timeline: list[dict[str, Any]], status: dict[str, Any], *, phase: str) -> list[dict[str, Any]]:
    """Phases the monitor did not see (they passed between two polls), at the times the operator recorded.

    B7 promises every job's timeline shows its pods' creation and start, however quickly they happen.
    """
    seen = {entry.get("phase") for entry in timeline}
    later = {"Running": ("Starting",), "Succeeded": ("Starting", "Running"), "Failed": ("Starting", "Running")}
    for missed, at, reason in (
        ("Starting", status.get("startTime"), "PodsStarting: pods created"),
        ("Running", status.get("runningTime"), "PodsRunning: all pods running"),
    ):
        word = _TIMELINE_PHASE[missed]
        if missed in later.get(phase, ()) and at and word not in seen:
            # The operator's times have second precision: never place an entry before the one it follows.
            previous = timeline[-1]["time"] if timeline else at
            time = max(at, previous, key=_instant)
            timeline.append({"phase": word, "time": time, "reason": reason, "code": reason.split(":")[0]})
    return timeline


def job_update(properties: dict[str, Any], status: dict[str, Any] | None) -> dict[str, Any] | None:
    """The job's new properties given its TetherJob's ``status`` (None: the TetherJob is gone), or None."""
    if status is None:
        error = {
            "code": "JobLost",
            "message": "The job's TetherJob disappeared from the cluster (deleted, or its namespace was deleted).",
        }
        return {
            **properties,
            "status": JobStatus.FAILED.value,
            "error": error,
            "timeline": with_event(properties["timeline"], JobStatus.FAILED.value, reason=error["message"]),
        }
    phase = status.get("phase")
    if phase not in PHASE_TO_STATUS:
        return None
    reason = ": ".join(str(x) for x in (status.get("reason"), status.get("message")) if x) or None
    new_status = PHASE_TO_STATUS[phase]
    timeline = _backfill(list(properties["timeline"]), status, phase=phase)
    last = timeline[-1] if timeline else {}
    if last.get("phase") == _TIMELINE_PHASE[phase] and last.get("code") == status.get("reason"):
        # Same phase, same cause, new detail ("1 of 2 pods started" → "2 of 2"): refresh, don't append.
        timeline[-1] = {**last, "reason": reason}
    else:
        timeline = with_event(timeline, _TIMELINE_PHASE[phase], reason=reason)
        timeline[-1] = {**timeline[-1], "code": status.get("reason")}
    updated = {**properties, "status": new_status.value, "timeline": timeline, "pods": status.get("pods", [])}
    if new_status is JobStatus.FAILED:
        updated["error"] = {"code": status.get("reason") or "JobFailed", "message": status.get("message") or "failed"}
    return None if updated == properties else updated


class JobMonitor:
    def __init__(self, *, store: Store, access: ClusterAccess, interval_s: float = 1.0) -> None:
        self._store = store
        self._access = access
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.poll()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self._interval_s)

    async def poll(self) -> None:
        async with self._store.transaction() as session:
            jobs = await resources.list_all_of_type(session, rt.JOBS)
        by_cluster: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for job in jobs:
            props = job.properties
            if props.get("clusterJobName") and not JobStatus(props["status"]).is_terminal:
                by_cluster[props["clusterId"]].append((job.key, props["namespace"], props["clusterJobName"]))
        for cluster, members in by_cluster.items():
            await self._poll_cluster(cluster, members)

    async def _poll_cluster(self, cluster: str, members: list[tuple[str, str, str]]) -> None:
        cluster_id = parse_resource_id(cluster)
        try:
            async with self._access.connect(
                cluster_id.key, connected=cluster_id.full_type == rt.CONNECTED_CLUSTERS, timeout_s=5
            ) as connection:
                found = await statuses(connection, namespaces={ns for _, ns, _ in members})
        except TetherError as e:
            log.info("job monitor: cannot read jobs of %s: %s", cluster_id.name, e)
            return
        async with self._store.transaction() as session:
            for job_key, namespace, name in members:
                row = await resources.get_by_key(session, job_key, for_update=True)
                if row is None or JobStatus(row.properties["status"]).is_terminal:
                    continue
                updated = job_update(row.properties, found.get((namespace, name)))
                if updated is not None:
                    row.properties = updated
