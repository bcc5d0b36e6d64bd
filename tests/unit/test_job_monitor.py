"""How cluster-side job status becomes the job's status and timeline (B7), without a cluster."""

from __future__ import annotations

import datetime as dt

from tether.domain.jobs import JobStatus, with_event
from tether.domain.models.jobs import JobError, JobState
from tether.reconcile.job_monitor import job_update


def _dispatched() -> JobState:
    timeline = with_event([], "Queued", reason="waiting for dispatch to the cluster")
    timeline = with_event(timeline, "Dispatched", reason="TetherJob ns/j created")
    return JobState(status=JobStatus.QUEUED, timeline=timeline)


def _phases(state: JobState) -> list[str]:
    return [entry.phase for entry in state.timeline]


def _later(seconds: int) -> str:
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


def test_a_job_that_started_between_two_polls_still_shows_pod_creation_and_start() -> None:
    status = {
        "phase": "Succeeded",
        "reason": "PodsSucceeded",
        "message": "pod succeeded",
        "startTime": _later(5),
        "runningTime": _later(6),
    }

    updated = job_update(_dispatched(), status)

    assert updated is not None
    assert updated.status is JobStatus.COMPLETED
    assert _phases(updated) == ["Queued", "Dispatched", "PodsCreated", "Running", "Completed"]
    assert updated.timeline[2].time == status["startTime"]
    assert updated.timeline[3].time == status["runningTime"]


def test_a_backfilled_phase_is_never_placed_before_the_one_it_follows() -> None:
    dispatched = _dispatched()
    # The operator's times have second precision: a start within the dispatch's second reads earlier.
    earlier = dispatched.timeline[-1].time[:19] + "Z"

    updated = job_update(dispatched, {"phase": "Running", "reason": "PodsRunning", "startTime": earlier})

    assert updated is not None
    created = updated.timeline[2]
    assert created.phase == "PodsCreated"
    assert created.time == dispatched.timeline[-1].time


def test_the_same_phase_with_new_detail_refreshes_the_last_entry_instead_of_adding_one() -> None:
    first = job_update(
        _dispatched(),
        {
            "phase": "Starting",
            "reason": "PodsStarting",
            "message": "1 of 2 pods started",
            "startTime": "2026-11-28T10:00:01Z",
        },
    )
    assert first is not None

    second = job_update(
        first,
        {
            "phase": "Starting",
            "reason": "PodsStarting",
            "message": "2 of 2 pods started",
            "startTime": "2026-11-28T10:00:01Z",
        },
    )

    assert second is not None
    assert _phases(second) == ["Queued", "Dispatched", "PodsCreated"]
    assert second.timeline[-1].reason == "PodsStarting: 2 of 2 pods started"


def test_a_wait_records_why_it_waits() -> None:
    updated = job_update(
        _dispatched(), {"phase": "Pending", "reason": "WaitingForCapacity", "message": "needs 3 pods; room for 1"}
    )

    assert updated is not None
    assert updated.status is JobStatus.QUEUED
    assert updated.timeline[-1].phase == "Waiting"
    assert updated.timeline[-1].reason == "WaitingForCapacity: needs 3 pods; room for 1"


def test_a_failure_carries_the_operators_reason_as_the_error() -> None:
    updated = job_update(_dispatched(), {"phase": "Failed", "reason": "PodFailed", "message": "pod j-0 exit code 3"})

    assert updated is not None
    assert updated.status is JobStatus.FAILED
    assert updated.error == JobError(code="PodFailed", message="pod j-0 exit code 3")


def test_a_job_whose_tetherjob_vanished_fails_as_lost() -> None:
    updated = job_update(_dispatched(), None)

    assert updated is not None
    assert updated.status is JobStatus.FAILED
    assert updated.error is not None
    assert updated.error.code == "JobLost"


def test_nothing_new_changes_nothing() -> None:
    running = job_update(
        _dispatched(),
        {
            "phase": "Running",
            "reason": "PodsRunning",
            "message": "pod started",
            "startTime": "2026-11-28T10:00:01Z",
            "runningTime": "2026-11-28T10:00:01Z",
        },
    )
    assert running is not None

    assert (
        job_update(
            running,
            {
                "phase": "Running",
                "reason": "PodsRunning",
                "message": "pod started",
                "startTime": "2026-11-28T10:00:01Z",
                "runningTime": "2026-11-28T10:00:01Z",
            },
        )
        is None
    )
