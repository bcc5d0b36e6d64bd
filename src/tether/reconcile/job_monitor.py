"""Carries what clusters report about dispatched jobs back into Tether: status, timeline, errors (B7).

For each (cluster, namespace) with unfinished dispatched jobs the monitor keeps a watch-fed cache of
the TetherJobs there (``kube.jobs.watch_jobs``). Any change wakes it; it then compares every
unfinished job with its TetherJob's status and writes what changed in one short transaction, so the
timeline records each phase when the operator reports it (an entry whenever the phase or its reason
changes: a job that waits says why it waits). It also looks every ``interval_s``, which starts the
watches of newly dispatched jobs and stops those no longer needed. Passes are at least ``batch_s``
apart, so that changes arriving together are written together. A quiet cluster costs an idle watch,
and finished jobs are never read again: unfinished ones are selected in the database.

A TetherJob missing from a cache that is current (listed, then watched), and then from the API server
asked directly (a watch may lag behind a TetherJob created a moment ago), fails its job (``JobLost``);
so does every unfinished job of a namespace whose TetherJob CRD is gone. While a watch is down (the
cluster unreachable) its jobs are left as they are and it is restarted with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tether.domain import resource_types as rt
from tether.domain.ids import parse_resource_id
from tether.domain.jobs import PHASE_TO_STATUS, JobStatus, TimelineEntry, with_event
from tether.domain.models.jobs import JobError, JobRecord, JobState
from tether.errors import NotFound, TetherError
from tether.kube.access import ClusterAccess
from tether.kube.informer import Informer
from tether.kube.jobs import follow_jobs, job_status, read_status, watch_jobs
from tether.reconcile.stopping import cancel_until_done
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


def _backfill(timeline: list[TimelineEntry], status: dict[str, Any], *, phase: str) -> list[TimelineEntry]:
    """Phases the monitor did not see (they passed between two polls), at the times the operator recorded.

    B7 promises every job's timeline shows its pods' creation and start, however quickly they happen.
    """
    seen = {entry.phase for entry in timeline}
    later = {"Running": ("Starting",), "Succeeded": ("Starting", "Running"), "Failed": ("Starting", "Running")}
    for missed, at, reason in (
        ("Starting", status.get("startTime"), "PodsStarting: pods created"),
        ("Running", status.get("runningTime"), "PodsRunning: all pods running"),
    ):
        word = _TIMELINE_PHASE[missed]
        if missed in later.get(phase, ()) and at and word not in seen:
            # The operator's times have second precision: never place an entry before the one it follows.
            previous = timeline[-1].time if timeline else at
            time = max(at, previous, key=_instant)
            timeline.append(TimelineEntry(phase=word, time=time, reason=reason, code=reason.split(":")[0]))
    return timeline


def job_update(state: JobState, status: dict[str, Any] | None) -> JobState | None:
    """The job's new state given its TetherJob's ``status`` (None: the TetherJob is gone), or None."""
    if status is None:
        error = JobError(
            code="JobLost",
            message="The job's TetherJob disappeared from the cluster (deleted, or its namespace was deleted).",
        )
        timeline = with_event(state.timeline, JobStatus.FAILED.value, reason=error.message)
        return state.model_copy(update={"status": JobStatus.FAILED, "error": error, "timeline": timeline})
    phase = status.get("phase")
    if phase not in PHASE_TO_STATUS:
        return None
    reason = ": ".join(str(x) for x in (status.get("reason"), status.get("message")) if x) or None
    new_status = PHASE_TO_STATUS[phase]
    timeline = _backfill(list(state.timeline), status, phase=phase)
    last = timeline[-1] if timeline else None
    if last is not None and last.phase == _TIMELINE_PHASE[phase] and last.code == status.get("reason"):
        # Same phase, same cause, new detail ("1 of 2 pods started" → "2 of 2"): refresh, don't append.
        timeline[-1] = last.model_copy(update={"reason": reason})
    else:
        timeline = with_event(timeline, _TIMELINE_PHASE[phase], reason=reason)
        timeline[-1] = timeline[-1].model_copy(update={"code": status.get("reason")})
    update: dict[str, Any] = {"status": new_status, "timeline": timeline, "pods": status.get("pods", [])}
    if new_status is JobStatus.FAILED:
        update["error"] = JobError(code=status.get("reason") or "JobFailed", message=status.get("message") or "failed")
    updated = state.model_copy(update=update)
    return None if updated == state else updated


Place = tuple[str, str]
"""(cluster id, namespace): where a job's TetherJob lives."""

MAX_BACKOFF_S = 30.0
BATCH_S = 0.25
_UNFINISHED = [s.value for s in JobStatus if not s.is_terminal]


@dataclass(frozen=True)
class _Dispatched:
    """An unfinished job whose TetherJob is ``name`` (in its place), with its state as last written."""

    key: str
    name: str
    state: JobState


@dataclass
class _Watch:
    """One place's TetherJobs, followed by ``task``; ``jobs`` is set while a watch is up."""

    task: asyncio.Task[None] | None = None
    jobs: Informer[Any] | None = None
    crd_gone: bool = False

    def statuses(self, namespace: str, names: list[str]) -> dict[str, dict[str, Any] | None] | None:
        """Each job's TetherJob status (None: it is gone), or None while the cache cannot say."""
        if self.crd_gone:
            return dict.fromkeys(names)
        if self.jobs is None or not self.jobs.synced.is_set():
            return None
        return {name: job_status(self.jobs, namespace, name) for name in names}


class JobMonitor:
    def __init__(
        self, *, store: Store, access: ClusterAccess, interval_s: float = 1.0, batch_s: float = BATCH_S
    ) -> None:
        self._store = store
        self._access = access
        self._interval_s = interval_s
        self._batch_s = batch_s
        self._task: asyncio.Task[None] | None = None
        self._watches: dict[Place, _Watch] = {}
        self.wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job monitor")

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *(w.task for w in self._watches.values())] if t is not None]
        await cancel_until_done(tasks)
        self._task = None
        self._watches.clear()

    async def _run(self) -> None:
        while True:
            self.wake.clear()  # before looking: a change that arrives meanwhile wakes the next pass
            try:
                await self.poll()
            except TetherError as e:
                log.warning("job monitor: pass failed: %s", e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self._interval_s)
            # Changes come in bursts (a gang's pods, a finishing job's phases): write them together, and
            # leave the store to the requests in between.
            await asyncio.sleep(self._batch_s)

    async def poll(self) -> None:
        """One pass: start or stop watches, then write every unfinished job's news in one transaction."""
        unfinished = await self._unfinished()
        self._watch_only(set(unfinished))
        updates: dict[str, dict[str, Any] | None] = {}
        for (cluster, namespace), jobs in unfinished.items():
            watch = self._watches[(cluster, namespace)]
            cached = watch.statuses(namespace, [job.name for job in jobs])
            if cached is None:
                continue
            known: dict[str, dict[str, Any] | None] = {n: s for n, s in cached.items() if s is not None}
            missing = [name for name, status in cached.items() if status is None]
            if missing:
                known.update(
                    dict.fromkeys(missing) if watch.crd_gone else await self._confirm(cluster, namespace, missing)
                )
            for job in jobs:
                if job.name in known and job_update(job.state, known[job.name]) is not None:
                    updates[job.key] = known[job.name]
        if updates:
            await self._write(updates)

    async def _unfinished(self) -> dict[Place, list[_Dispatched]]:
        """The unfinished jobs that have been dispatched, by where their TetherJobs are."""
        async with self._store.transaction() as session:
            rows = await resources.list_of_type_where(session, rt.JOBS, property_name="status", values=_UNFINISHED)
        by_place: dict[Place, list[_Dispatched]] = defaultdict(list)
        for row in rows:
            record = resources.read_properties(row, JobRecord)
            if (placement := record.private.placement) is not None:
                job = _Dispatched(row.key, placement.cluster_job_name, record.state)
                by_place[(placement.cluster_id, placement.namespace)].append(job)
        return by_place

    async def _confirm(self, cluster: str, namespace: str, names: list[str]) -> dict[str, dict[str, Any] | None]:
        """Ask the API server about TetherJobs the cache does not hold; any it cannot answer for stay unknown
        (left out), so that only a TetherJob the cluster says is gone fails its job."""
        cluster_id = parse_resource_id(cluster)
        connected = cluster_id.full_type == rt.CONNECTED_CLUSTERS
        answers: dict[str, dict[str, Any] | None] = {}
        try:
            async with self._access.connect(cluster_id.key, connected=connected) as connection:
                for name in names:
                    answers[name] = await read_status(connection, namespace, name)
        except TetherError as e:
            log.info("job monitor: cannot read jobs of %s/%s: %s", cluster_id.name, namespace, e)
        return answers

    async def _write(self, updates: dict[str, dict[str, Any] | None]) -> None:
        async with self._store.transaction() as session:
            for key, status in updates.items():
                row = await resources.get_by_key(session, key, for_update=True)
                if row is None:
                    continue  # deleted meanwhile
                record = resources.read_properties(row, JobRecord)
                if record.state.status.is_terminal:
                    continue  # finished meanwhile (a cancel)
                updated = job_update(record.state, status)
                if updated is not None:
                    await resources.update(session, row, properties=record.model_copy(update={"state": updated}))

    def _watch_only(self, places: set[Place]) -> None:
        for place in set(self._watches) - places:
            watch = self._watches.pop(place)
            if watch.task is not None:
                watch.task.cancel()
        for place in places - set(self._watches):
            watch = _Watch()
            watch.task = asyncio.create_task(self._follow(place, watch), name=f"job watch {place[1]}")
            self._watches[place] = watch

    async def _follow(self, place: Place, watch: _Watch) -> None:
        """Keep the place's cache up, restarting it (a relist) with back-off when the cluster fails it."""
        cluster, namespace = place
        cluster_id = parse_resource_id(cluster)
        connected = cluster_id.full_type == rt.CONNECTED_CLUSTERS
        delay = 1.0
        while True:
            try:
                async with self._access.connect(cluster_id.key, connected=connected) as connection:
                    watch.jobs = watch_jobs(connection, namespace, on_change=self.wake.set)
                    await follow_jobs(watch.jobs, namespace)
                delay = 1.0
            except NotFound as e:
                log.info("job monitor: TetherJobs of %s/%s are gone: %s", cluster_id.name, namespace, e)
                watch.crd_gone = True
                self.wake.set()
                return
            except TetherError as e:
                log.info("job monitor: cannot watch jobs of %s/%s: %s", cluster_id.name, namespace, e)
                watch.jobs = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
