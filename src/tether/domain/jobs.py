"""Jobs as Tether sees them: statuses, the timeline (B7), and names in the cluster.

A job's ``status`` follows Azure ML's words (Queued, Starting, Running, Completed, Failed,
Canceled); its ``timeline`` records every phase with a timestamp and the reason for any wait
(``TimelineEntry``). The cluster-side TetherJob's phase maps onto these. A job's whole stored state is
``tether.domain.models.jobs.JobRecord``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class JobStatus(StrEnum):
    QUEUED = "Queued"
    STARTING = "Starting"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


# The operator's TetherJob phases (docs/ml-extension.md) → the job's status.
PHASE_TO_STATUS = {
    "Pending": JobStatus.QUEUED,
    "Starting": JobStatus.STARTING,
    "Running": JobStatus.RUNNING,
    "Succeeded": JobStatus.COMPLETED,
    "Failed": JobStatus.FAILED,
    "Canceled": JobStatus.CANCELED,
}

SIMULATION_TAG_PREFIX = "tether.dev/"
_K8S_NAME = re.compile(r"[^a-z0-9-]+")


def cluster_job_name(job_key: str, job_name: str) -> str:
    """The TetherJob (and pod-prefix) name: DNS-1123, at most 50 characters, unique per job id."""
    stem = _K8S_NAME.sub("-", job_name.lower()).strip("-")[:36] or "job"
    digest = hashlib.sha256(job_key.encode()).hexdigest()[:8]
    return f"{stem}-{digest}"


def service_account_name(compute_name: str) -> str:
    """The service account the compute's workloads run as, in the compute's namespace."""
    return f"tether-compute-{compute_name.lower()}"


class TimelineEntry(BaseModel):
    """One phase of a job's timeline: when it began, and why (a wait says what it waits for)."""

    model_config = ConfigDict(frozen=True)
    phase: str
    #: ISO 8601 UTC (``2026-11-28T10:00:01.123456Z``; the operator's own times have second precision).
    time: str
    reason: str | None
    #: The operator's reason code (``PodsRunning``...), set on entries the job monitor writes.
    code: str | None = Field(None, exclude_if=lambda code: code is None)


def timeline_entry(phase: str, *, reason: str | None = None, at: dt.datetime | None = None) -> TimelineEntry:
    moment = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return TimelineEntry(phase=phase, time=moment.isoformat().replace("+00:00", "Z"), reason=reason)


def with_event(timeline: Sequence[TimelineEntry], phase: str, *, reason: str | None = None) -> list[TimelineEntry]:
    """The timeline plus an entry, unless the last entry already says the same (phase and reason)."""
    if timeline and timeline[-1].phase == phase and timeline[-1].reason == reason:
        return list(timeline)
    return [*timeline, timeline_entry(phase, reason=reason)]
