"""The job controller: keeps watch-fed caches of TetherJobs, pods, nodes, InstanceTypes and the extension's
settings (``reads.CachedReads``), and feeds a few workers (``WORKERS``) that reconcile jobs
(``jobs.reconcile_job``) from those caches, never one job by two at once.

Events only say *which* job to look at; the worker reads the job's current state from the caches, so a
lost, late or repeated event costs a redundant pass, never a wrong one. Three sources wake a job: a
change of its TetherJob, a change of one of its pods (label ``tether.dev/job``), and a periodic resync
of every non-terminal job in the cache (which also retries jobs waiting for capacity that other
workloads freed). When a pod finishes or disappears, every job waiting for capacity is looked at at
once. Workers start once every cache has been filled by its first list.

Placement decisions never race each other inside this operator: one lock, shared by the workers, is
held from a job's placement reads until its pods are created. A key that is queued again while a
worker has it is held back and queued once that pass ends.

Hazards: a cache whose watch fails is refilled by a new list, with back-off (which doubles as a
resync); a job whose pass keeps failing with a temporary error is retried
with exponential back-off up to ``MAX_BACKOFF_S``; two operators on one cluster would both reconcile
(harmless for pods — names are fixed — but they would write statuses twice).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.core_v1 import Pod

from tether.agents.extension.job_status import TERMINAL_PHASES
from tether.agents.extension.jobs import Outcome, reconcile_job
from tether.agents.extension.jobspec import JOB_LABEL
from tether.agents.extension.reads import CachedReads
from tether.errors import TetherError
from tether.kube.errors import KUBE_ERRORS, kube_error
from tether.kube.informer import Informer

log = logging.getLogger(__name__)

Key = tuple[str, str]
DEFAULT_RESYNC_S = 5.0
MAX_BACKOFF_S = 30.0
WORKERS = 4
_POD_DONE = ("Succeeded", "Failed")


def _key(obj: Any) -> Key | None:
    meta = obj.metadata
    if meta is None or not meta.name or not meta.namespace:
        return None
    return meta.namespace, meta.name


class JobController:
    """Run with ``await controller.run(stop)``; returns when ``stop`` is set."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        release_namespace: str,
        resync_s: float = DEFAULT_RESYNC_S,
        workers: int = WORKERS,
    ) -> None:
        self._client = client
        self._release_namespace = release_namespace
        self._resync_s = resync_s
        self._workers = max(1, workers)
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._busy: set[Key] = set()  # being reconciled by a worker
        self._again: set[Key] = set()  # queued while busy: queue once the pass ends
        self._placement_lock = asyncio.Lock()
        self._waiting: set[Key] = set()
        self._failures: dict[Key, int] = {}
        self._reads = CachedReads(client, release_namespace, on_job=self._job_changed, on_pod=self._pod_changed)

    def enqueue(self, key: Key) -> None:
        if key in self._busy:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def _enqueue_later(self, key: Key, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.enqueue, key)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``; a programming error in any of its tasks stops the others and is raised."""
        tasks = [
            *(asyncio.create_task(self._forever(i)) for i in self._reads.informers),
            asyncio.create_task(self._resync()),
            *(asyncio.create_task(self._worker()) for _ in range(self._workers)),
        ]
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [stopped, *tasks]:
                task.cancel()
            results = await asyncio.gather(stopped, *tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
        if errors:
            raise errors[0]

    async def _forever(self, informer: Informer[Any]) -> None:
        """Run the informer; when its list or watch fails, log and run it again (a relist) with back-off."""
        delay = 1.0
        what = f"the {informer.kind} watch"
        while True:
            try:
                await informer.run()
                delay = 1.0
            except KUBE_ERRORS as e:
                log.warning("%s failed, restarting in %.0f s: %s", what, delay, kube_error(e, doing=what).message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)

    def _job_changed(self, job: Any, gone: bool) -> None:
        key = _key(job)
        if key is not None and (gone or (job.get("status") or {}).get("phase") not in TERMINAL_PHASES):
            self.enqueue(key)

    def _pod_changed(self, pod: Pod, gone: bool) -> None:
        meta = pod.metadata
        job = (meta.labels or {}).get(JOB_LABEL) if meta else None
        if meta is not None and job and meta.namespace:
            self.enqueue((meta.namespace, job))
        if gone or (pod.status is not None and pod.status.phase in _POD_DONE):
            for key in sorted(self._waiting):  # room may have freed up
                self.enqueue(key)

    async def _resync(self) -> None:
        await self._reads.synced()
        while True:
            await asyncio.sleep(self._resync_s)
            for job in self._reads.jobs():
                key = _key(job)
                if key is not None and (job.get("status") or {}).get("phase") not in TERMINAL_PHASES:
                    self.enqueue(key)

    async def _worker(self) -> None:
        await self._reads.synced()
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._busy.add(key)
            try:
                await self._reconcile(key)
            finally:
                self._busy.discard(key)
                if key in self._again:
                    self._again.discard(key)
                    self.enqueue(key)

    async def _reconcile(self, key: Key) -> None:
        try:
            outcome = await reconcile_job(
                self._client,
                namespace=key[0],
                name=key[1],
                release_namespace=self._release_namespace,
                placement_lock=self._placement_lock,
                reads=self._reads,
            )
        except TetherError as e:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(2.0 ** (failures - 1), MAX_BACKOFF_S)
            log.warning("TetherJob %s/%s: pass failed, retrying in %.0f s: %s", *key, delay, e)
            self._enqueue_later(key, delay)
            return
        self._failures.pop(key, None)
        if outcome is Outcome.WAITING:
            self._waiting.add(key)
        else:
            self._waiting.discard(key)
