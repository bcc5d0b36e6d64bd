"""Writing a TetherJob's ``status``: only when it changes, as a merge patch, through into the caches.

``next_status`` (``job_status``) computes the new status; the writer patches what differs (keys that
disappear are set to null), remembers the answer in the caches (``ClusterReads.remember_job``), and
records an Event when the phase or the reason changes (``Warning`` for waits and failures).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lightkube import AsyncClient
from lightkube.types import PatchType

from tether.agents.extension.events import record_event
from tether.agents.extension.job_status import FAILED, PENDING, STARTING, Verdict, next_status
from tether.agents.extension.pods import JobRef
from tether.agents.extension.reads import ClusterReads
from tether.agents.extension.workloads import answered
from tether.kube.errors import KUBE_ERRORS, kube_error
from tether.kube.resources import TetherJob

log = logging.getLogger(__name__)


class StatusWriter:
    """Writes a job's ``status`` when it changes (and an Event when its phase or reason does)."""

    def __init__(
        self,
        client: AsyncClient,
        reads: ClusterReads,
        job: JobRef,
        previous: Mapping[str, Any],
        generation: int | None,
    ) -> None:
        self.client, self.reads, self.job, self.previous, self.generation = client, reads, job, previous, generation

    async def write(
        self, verdict: Verdict, *, pods: Sequence[Mapping[str, Any]], admitted: bool, count: int = 1
    ) -> None:
        status = next_status(
            self.previous,
            verdict=verdict,
            pods=pods,
            admitted=admitted,
            count=count,
            generation=self.generation,
            now=datetime.now(UTC),
        )
        if status == self.previous:
            return
        patch: dict[str, Any] = {k: None for k in self.previous if k not in status} | status
        where = f"{self.job.namespace}/{self.job.name}"
        try:
            written = await self.client.patch(
                TetherJob.Status,
                self.job.name,
                {"status": patch},
                namespace=self.job.namespace,
                patch_type=PatchType.MERGE,
            )
        except KUBE_ERRORS as e:
            if answered(e, 404):
                return  # deleted meanwhile
            raise kube_error(e, doing=f"writing the status of TetherJob {where}") from e
        self.reads.remember_job(written)
        if (verdict.phase, verdict.reason) != (self.previous.get("phase"), self.previous.get("reason")):
            log.info("TetherJob %s: %s (%s) %s", where, verdict.phase, verdict.reason, verdict.message)
            waiting = verdict.phase == STARTING and verdict.reason != "PodsStarting"  # e.g. Unschedulable
            warning = verdict.phase in (FAILED, PENDING) or waiting
            await record_event(
                self.client,
                self.job,
                warning=warning,
                reason=verdict.reason,
                message=verdict.message,
            )
