"""A TetherJob's ``status``, derived from its pods (pure: no I/O).

``view_pod`` reduces a pod to what the job reports about it; ``judge`` turns the pods into the job's
phase, reason and message; ``next_status`` assembles the whole ``status`` object, keeping what was
already decided (times, conditions' transition times) so that re-deriving it from the same pods gives
the same object and the operator writes only when something changed.

Phases (docs/ml-extension.md): ``Pending`` (not admitted: ``WaitingForCapacity``), ``Starting`` (pods
created, not all running; the reason is the first waiting pod's, e.g. ``Unschedulable``,
``ContainerCreating``, ``ErrImagePull``, else ``PodsStarting``), ``Running`` (every pod running or
done: ``PodsRunning``), then one of ``Succeeded`` (``PodsSucceeded``), ``Failed`` (``PodFailed``,
``PodDeleted``, ``UnknownInstanceType``, ``InvalidSpec``, ``E45004``) or ``Canceled``
(``CancelRequested``). A pod whose image cannot be pulled (``ErrImagePull``, ``ImagePullBackOff``)
counts as failed, so the job fails naming the image instead of waiting. The last three are final:
nothing moves a job out of them.

Hazards: ``runningTime`` is when the last pod of the gang started (the kubelet's ``startTime``), not
when the operator noticed; ``completionTime`` of a success is the last container's ``finishedAt``,
otherwise the operator's clock.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightkube.resources.core_v1 import Pod

from tether.agents.extension.jobspec import INDEX_LABEL

PENDING, STARTING, RUNNING = "Pending", "Starting", "Running"
SUCCEEDED, FAILED, CANCELED = "Succeeded", "Failed", "Canceled"
TERMINAL_PHASES = (SUCCEEDED, FAILED, CANCELED)
DELETED = "Deleted"
"""The phase a ``status.pods`` entry keeps for a pod the operator deleted (cancel, or a sibling failed)."""
CONDITION_TYPES = ("Admitted", "Running", "Finished")
#: Container waiting reasons that fail the job at once instead of leaving it Starting.
IMAGE_PULL_FAILURES = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PodView:
    """One pod as its job reports it."""

    name: str
    index: int
    phase: str
    node_name: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    message: str | None = None
    start_time: datetime | None = None
    finish_time: datetime | None = None

    def to_status(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "index": self.index, "phase": self.phase}
        optional = {
            "nodeName": self.node_name,
            "exitCode": self.exit_code,
            "reason": self.reason,
            "message": self.message,
            "startTime": rfc3339(self.start_time) if self.start_time else None,
            "finishTime": rfc3339(self.finish_time) if self.finish_time else None,
        }
        entry.update({k: v for k, v in optional.items() if v is not None})
        return entry


def _index(pod: Pod, name: str) -> int:
    raw = ((pod.metadata.labels if pod.metadata else None) or {}).get(INDEX_LABEL) or name.rsplit("-", 1)[-1]
    try:
        return int(raw)
    except ValueError:
        return -1


def view_pod(pod: Pod) -> PodView:
    """Phase, node, exit code, the reason it waits or failed, and its start/finish times."""
    name = (pod.metadata.name if pod.metadata else None) or ""
    status = pod.status
    phase = (status.phase if status else None) or PENDING
    reason = status.reason if status else None
    message = status.message if status else None
    exit_code: int | None = None
    finished: list[datetime] = []
    for container in (status.containerStatuses if status else None) or []:
        state = container.state
        if state is None:
            continue
        if state.terminated is not None:
            if exit_code is None or (exit_code == 0 and state.terminated.exitCode != 0):
                exit_code = state.terminated.exitCode
                reason = reason or state.terminated.reason
                message = message or state.terminated.message
            if state.terminated.finishedAt is not None:
                finished.append(state.terminated.finishedAt)
        elif state.waiting is not None and phase == PENDING and reason is None:
            reason, message = state.waiting.reason, state.waiting.message
            if reason in IMAGE_PULL_FAILURES:
                # Retrying would only wait: the job fails and says which image (e.g. a typo, or an image
                # the local cluster did not build: `tether local-cluster images` lists those).
                phase = FAILED
                message = f'image "{container.image}" could not be pulled: {message or reason}'
    if phase == PENDING and reason is None:
        for condition in (status.conditions if status else None) or []:
            if condition.type == "PodScheduled" and condition.status == "False":
                reason, message = condition.reason or "Unschedulable", condition.message
    return PodView(
        name=name,
        index=_index(pod, name),
        phase=phase,
        node_name=(pod.spec.nodeName if pod.spec else None) or None,
        exit_code=exit_code,
        reason=reason or None,
        message=message or None,
        start_time=status.startTime if status else None,
        finish_time=max(finished) if finished and phase in (SUCCEEDED, FAILED) else None,
    )


@dataclass(frozen=True)
class Verdict:
    phase: str
    reason: str
    message: str


def describe_failure(view: PodView) -> str:
    code = f"exit code {view.exit_code}" if view.exit_code is not None else "no exit code"
    why = f" ({view.reason}{': ' + view.message if view.message else ''})" if view.reason else ""
    return f"pod {view.name} failed with {code}{why}"


def judge(views: Sequence[PodView], *, count: int) -> Verdict:
    """The job's phase from its pods (all ``count`` of them exist, or were created)."""
    failed = [v for v in views if v.phase == FAILED]
    if failed:
        return Verdict(FAILED, "PodFailed", "; ".join(describe_failure(v) for v in failed))
    done = [v for v in views if v.phase == SUCCEEDED]
    if len(done) == count:
        noun = "pod" if count == 1 else f"all {count} pods"
        return Verdict(SUCCEEDED, "PodsSucceeded", f"{noun} succeeded")
    running = [v for v in views if v.phase == RUNNING]
    if len(running) + len(done) == count:
        return Verdict(RUNNING, "PodsRunning", f"all {count} pods started" if count > 1 else "pod started")
    waiting = sorted((v for v in views if v.phase not in (RUNNING, SUCCEEDED)), key=lambda v: v.index)
    first = waiting[0] if waiting else None
    summary = f"{len(running) + len(done)} of {count} pods started"
    if first is not None and first.reason:
        detail = f"{first.name}: {first.reason}{': ' + first.message if first.message else ''}"
        return Verdict(STARTING, first.reason, f"{summary}; {detail}")
    return Verdict(STARTING, "PodsStarting", f"{summary}; waiting for the rest to be scheduled and started")


def _conditions(previous: Sequence[Mapping[str, Any]], *, verdict: Verdict, admitted: bool, now: str) -> list[Any]:
    before = {c.get("type"): c for c in previous}
    wanted = {
        "Admitted": (admitted, "PodsCreated" if admitted else verdict.reason),
        "Running": (verdict.phase == RUNNING, verdict.reason),
        "Finished": (verdict.phase in TERMINAL_PHASES, verdict.reason),
    }
    conditions = []
    for kind in CONDITION_TYPES:
        state, reason = wanted[kind]
        text = "True" if state else "False"
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == text else None
        conditions.append({"type": kind, "status": text, "lastTransitionTime": since or now, "reason": reason})
    return conditions


def next_status(
    previous: Mapping[str, Any],
    *,
    verdict: Verdict,
    pods: Sequence[Mapping[str, Any]],
    admitted: bool,
    count: int,
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The full ``status`` to write; times already recorded in ``previous`` are kept."""
    stamp = rfc3339(now)
    status: dict[str, Any] = {
        "phase": verdict.phase,
        "reason": verdict.reason,
        "message": verdict.message,
        "pods": [dict(p) for p in sorted(pods, key=lambda p: (p.get("index", -1), p.get("name", "")))],
        "conditions": _conditions(previous.get("conditions") or [], verdict=verdict, admitted=admitted, now=stamp),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    start = previous.get("startTime") or (stamp if admitted else None)
    if start:
        status["startTime"] = start
    started = [p.get("startTime") for p in pods]
    running = previous.get("runningTime")
    if running is None and verdict.phase in (RUNNING, SUCCEEDED, FAILED) and len(pods) == count and all(started):
        running = max(str(s) for s in started)
    if running:
        status["runningTime"] = running
    completion = previous.get("completionTime")
    if completion is None and verdict.phase in TERMINAL_PHASES:
        finished = [p.get("finishTime") for p in pods]
        succeeded = verdict.phase == SUCCEEDED and finished and all(finished)
        completion = max(str(f) for f in finished) if succeeded else stamp
    if completion:
        status["completionTime"] = completion
    return status


def entries_after_deleting(
    previous: Mapping[str, Any], *, seen: Sequence[PodView], deleted: Collection[str], reason: str
) -> list[dict[str, Any]]:
    """``status.pods`` once the operator deleted pods: pods that had not finished are marked ``Deleted``.

    ``seen`` is how the pods looked before the deletion; entries of pods already gone are kept from
    ``previous`` (marked too, if they had not finished).
    """
    entries = {str(old.get("name")): dict(old) for old in previous.get("pods") or [] if old.get("name")}
    entries |= {v.name: v.to_status() for v in seen}
    gone = set(deleted) | (set(entries) - {v.name for v in seen})
    for name in gone:
        entry = entries.get(name)
        if entry is not None and entry.get("phase") not in (SUCCEEDED, FAILED, DELETED):
            entry.update(phase=DELETED, reason=reason)
            entry.pop("message", None)
    return list(entries.values())
