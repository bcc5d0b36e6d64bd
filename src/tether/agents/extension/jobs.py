"""Reconcile one TetherJob: admit it (training enabled, instance type, gang placement), create its
service account and pods, follow the pods, write ``status`` back, cancel on request.

``reconcile_job`` is idempotent and restart-safe: it finds a job's pods by label (and owner uid), so
running it again — after an operator restart, a crash halfway through creating a gang, or twice in a
row — never creates a duplicate pod; pods are named ``<cr>-<index>`` and a second create of one is
refused by the API server. A pod that was seen (recorded in ``status.pods``) and has vanished fails
the job (``PodDeleted``); one never seen is part of an interrupted creation and is created.

Failures: ``JobFailed`` (permanent: the job becomes ``Failed`` with its code as reason) is handled here;
every other ``TetherError`` (API server unreachable, forbidden, the extension's settings unreadable) is
temporary and propagates to the controller, which retries with back-off.

Hazards: pods are deleted before a terminal status is written (so a terminal job never leaves pods
running), which means a crash in between repeats the deletion, harmlessly; terminal jobs are not
looked at again; placement is re-checked only while no pod of the job exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.core_v1 import Node, Pod

from tether.agents.extension.checks import OperatorSettings
from tether.agents.extension.job_status import (
    CANCELED,
    FAILED,
    PENDING,
    TERMINAL_PHASES,
    Verdict,
    entries_after_deleting,
    judge,
    view_pod,
)
from tether.agents.extension.jobspec import JobFailed, JobSpec, check_job_name, pod_name
from tether.agents.extension.logtail import with_log_tails
from tether.agents.extension.placement import GangPlan, node_rooms, plan_gang
from tether.agents.extension.pods import (
    JobRef,
    node_selector_for,
    pod_requests,
    pod_tolerations,
)
from tether.agents.extension.reads import ClusterReads, LiveReads
from tether.agents.extension.status_writer import StatusWriter
from tether.agents.extension.workloads import (
    create_pods,
    delete_pods,
    list_job_pods,
    owned,
    read_service_account,
    unfinished,
)
from tether.kube.extension_status import InstanceTypeInfo

log = logging.getLogger(__name__)

E45004_MESSAGE = "E45004: Training feature is not enabled, please enable it when install the extension."


class Outcome(StrEnum):
    """What the controller should do with the job next."""

    GONE = "gone"  # deleted: forget it
    WAITING = "waiting"  # Pending for capacity: look again when pods finish
    ACTIVE = "active"  # pods running: their events will bring it back
    FINISHED = "finished"  # terminal


def admit_instance_type(
    settings: OperatorSettings, name: str, instance_types: Iterable[InstanceTypeInfo]
) -> InstanceTypeInfo:
    """The instance type a new job runs with; ``JobFailed`` (``E45004``, ``UnknownInstanceType``) if none."""
    if not settings.enable_training:
        raise JobFailed(E45004_MESSAGE, code="E45004")
    types = {it.name: it for it in instance_types}
    if name not in types:
        raise JobFailed(
            f"Instance type '{name}' not found. Known instance types: {', '.join(types)}. Create an "
            f"InstanceType named '{name}' in the cluster or submit the job with one of these.",
            code="UnknownInstanceType",
        )
    return types[name]


def _raise_if_error(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result


async def _admit(client: AsyncClient, reads: ClusterReads, job: JobRef, spec: JobSpec) -> tuple[GangPlan, list[Pod]]:
    """Check training, instance type and room; create every pod if the whole gang fits (returned).

    The reads run concurrently (instantly, when cached): the settings, the InstanceTypes, the nodes and
    active pods for placement and the job's ServiceAccount. Callers serialize calls (placement is only
    correct if no other placement creates pods between the reads and the creates)."""
    read = await asyncio.gather(
        reads.settings(),
        reads.instance_types(),
        reads.nodes(),
        reads.active_pods(),
        read_service_account(reads, job.namespace, spec),
        return_exceptions=True,
    )
    # Failures surface in the order the reads used to be made one after the other.
    settings: OperatorSettings = _raise_if_error(read[0])
    instance_types: list[InstanceTypeInfo] = _raise_if_error(read[1])
    instance_type = admit_instance_type(settings, spec.instance_type, instance_types)
    nodes: list[Node] = _raise_if_error(read[2])
    active: list[Pod] = _raise_if_error(read[3])
    account = read[4]
    selector = node_selector_for(instance_type, settings.node_selector)
    tolerations = pod_tolerations(instance_type, selector)
    rooms = node_rooms(nodes, active, node_selector=selector, tolerations=tolerations)
    plan = plan_gang(rooms, count=spec.instance_count, requests=pod_requests(instance_type), node_selector=selector)
    created: list[Pod] = []
    if plan.fits:
        account = _raise_if_error(account)
        indexes = range(spec.instance_count)
        created = await create_pods(
            client, reads, job, spec, indexes=indexes, instance_type=instance_type, settings=settings, account=account
        )
    return plan, created


@contextlib.asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


def _missing(spec: JobSpec, job: JobRef, pods: Sequence[Pod]) -> set[int]:
    names = {p.metadata.name for p in pods if p.metadata}
    return {i for i in range(spec.instance_count) if pod_name(job.name, i) not in names}


async def _finish_creation(
    client: AsyncClient, reads: ClusterReads, job: JobRef, spec: JobSpec, previous: Mapping[str, Any]
) -> list[Pod]:
    """Some pods of an admitted job are missing: create those never seen (an interrupted creation), fail the
    job if one that was seen has vanished (``PodDeleted``). Returns the job's pods.

    Only the API server may say pods are missing: a cache may not show pods created a moment ago."""
    pods = await list_job_pods(reads, job, fresh=True)
    missing = _missing(spec, job, pods)
    if not missing:
        return pods
    recorded = {str(p.get("name")) for p in previous.get("pods") or []}
    lost = sorted(pod_name(job.name, i) for i in missing if pod_name(job.name, i) in recorded)
    if lost or not pods:
        raise JobFailed(
            f"pod(s) {', '.join(lost) or 'of the job'} were deleted before the job finished", code="PodDeleted"
        )
    # The job was admitted already (training was enabled then).
    settings = await reads.settings()
    training = OperatorSettings(True, settings.enable_inference, settings.node_selector)
    instance_type = admit_instance_type(training, spec.instance_type, await reads.instance_types())
    await create_pods(client, reads, job, spec, indexes=sorted(missing), instance_type=instance_type, settings=settings)
    return await list_job_pods(reads, job, fresh=True)


async def reconcile_job(
    client: AsyncClient,
    *,
    namespace: str,
    name: str,
    release_namespace: str,
    placement_lock: asyncio.Lock | None = None,
    reads: ClusterReads | None = None,
) -> Outcome:
    """Bring one TetherJob one step closer to done; see the module docstring for the rules.

    ``placement_lock``: held around placement and the creation of the placed pods, so that concurrent
    passes (of different jobs) never place against the same free room. ``reads``: where the pass reads
    the cluster (the controller's caches); fresh reads from ``client`` when not given."""
    reads = reads or LiveReads(client, release_namespace)
    # The job and its labelled pods are read together; the pods are then filtered by the job's uid.
    obj, labelled = await asyncio.gather(reads.job(namespace, name), reads.job_pods(namespace, name))
    if obj is None or obj.metadata is None or obj.metadata.deletionTimestamp is not None:
        return Outcome.GONE
    job = JobRef(namespace, name, str(obj.metadata.uid))
    previous: dict[str, Any] = dict(obj.get("status") or {})
    if previous.get("phase") in TERMINAL_PHASES:
        return Outcome.FINISHED
    writer = StatusWriter(client, reads, job, previous, obj.metadata.generation)
    pods = owned(job, labelled)
    try:
        spec = JobSpec.from_cr(obj.get("spec") or {})
        check_job_name(name)
        if spec.cancel_requested:
            seen = [view_pod(p) for p in pods]
            deleted = await delete_pods(client, job, pods)
            message = f"canceled on request; deleted pods: {', '.join(deleted)}" if deleted else "canceled on request"
            entries = entries_after_deleting(previous, seen=seen, deleted=deleted, reason="Canceled")
            admitted = bool(pods) or bool(previous.get("startTime"))
            await writer.write(Verdict(CANCELED, "CancelRequested", message), pods=entries, admitted=admitted)
            return Outcome.FINISHED
        if not pods and not previous.get("startTime"):
            async with placement_lock or _no_lock():
                plan, created = await _admit(client, reads, job, spec)
            if not plan.fits:
                await writer.write(Verdict(PENDING, "WaitingForCapacity", plan.message), pods=[], admitted=False)
                return Outcome.WAITING
            pods = created
        elif _missing(spec, job, pods):
            pods = await _finish_creation(client, reads, job, spec, previous)
        views = [view_pod(p) for p in pods]
        verdict = judge(views, count=spec.instance_count)
        entries = [v.to_status() for v in views]
        if verdict.phase == FAILED:
            verdict = await with_log_tails(client, job.namespace, views, verdict)
            deleted = await delete_pods(client, job, unfinished(pods))
            entries = entries_after_deleting(previous, seen=views, deleted=deleted, reason="JobFailed")
        await writer.write(verdict, pods=entries, admitted=True, count=spec.instance_count)
        return Outcome.FINISHED if verdict.phase in TERMINAL_PHASES else Outcome.ACTIVE
    except JobFailed as e:
        pods = await list_job_pods(reads, job, fresh=True)
        seen = [view_pod(p) for p in pods]
        deleted = await delete_pods(client, job, unfinished(pods))
        entries = entries_after_deleting(previous, seen=seen, deleted=deleted, reason="JobFailed")
        admitted = bool(pods) or bool(previous.get("startTime"))
        await writer.write(Verdict(FAILED, e.code, e.message), pods=entries, admitted=admitted)
        return Outcome.FINISHED
