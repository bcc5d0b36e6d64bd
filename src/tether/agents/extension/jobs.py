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
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Node, Pod, ServiceAccount
from lightkube.types import PatchType

from tether.agents.extension.checks import OperatorSettings
from tether.agents.extension.events import record_event
from tether.agents.extension.job_status import (
    CANCELED,
    FAILED,
    PENDING,
    STARTING,
    SUCCEEDED,
    TERMINAL_PHASES,
    Verdict,
    entries_after_deleting,
    judge,
    next_status,
    view_pod,
)
from tether.agents.extension.jobspec import JobFailed, JobSpec, check_job_name, pod_name
from tether.agents.extension.placement import GangPlan, node_rooms, plan_gang
from tether.agents.extension.pods import (
    GPU_TOLERATION,
    JobRef,
    node_selector_for,
    pod_requests,
    render_pod,
    render_service_account,
)
from tether.agents.extension.reads import UP_TO_DATE, ClusterReads, LiveReads
from tether.errors import Unavailable
from tether.kube.errors import KUBE_ERRORS, kube_error
from tether.kube.extension_status import InstanceTypeInfo
from tether.kube.resources import TetherJob

log = logging.getLogger(__name__)

E45004_MESSAGE = "E45004: Training feature is not enabled, please enable it when install the extension."


class Outcome(StrEnum):
    """What the controller should do with the job next."""

    GONE = "gone"  # deleted: forget it
    WAITING = "waiting"  # Pending for capacity: look again when pods finish
    ACTIVE = "active"  # pods running: their events will bring it back
    FINISHED = "finished"  # terminal


def _is(error: Exception, *codes: int) -> bool:
    return isinstance(error, ApiError) and error.status.code in codes


def _owned(job: JobRef, pods: Iterable[Pod]) -> list[Pod]:
    return [p for p in pods if p.metadata and any(o.uid == job.uid for o in p.metadata.ownerReferences or [])]


async def list_job_pods(reads: ClusterReads, job: JobRef, *, fresh: bool = False) -> list[Pod]:
    """The job's pods: labelled with its name and owned by this very object (not an older namesake)."""
    return _owned(job, await reads.job_pods(job.namespace, job.name, fresh=fresh))


async def _delete_pods(client: AsyncClient, job: JobRef, pods: Iterable[Pod]) -> list[str]:
    deleted = []
    for pod in pods:
        name = pod.metadata.name if pod.metadata and pod.metadata.name else ""
        deleted.append(name)
        if pod.metadata is not None and pod.metadata.deletionTimestamp is not None:
            continue
        try:
            await client.delete(Pod, name, namespace=job.namespace)
        except KUBE_ERRORS as e:
            if not _is(e, 404):
                raise kube_error(e, doing=f"deleting pod {job.namespace}/{name}") from e
    return deleted


def _unfinished(pods: Iterable[Pod]) -> list[Pod]:
    return [p for p in pods if not (p.status and p.status.phase in (SUCCEEDED, FAILED))]


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


_NO_ACCOUNT = object()  # the job needs no ServiceAccount
_UNREAD = object()  # not read yet


async def _read_service_account(reads: ClusterReads, namespace: str, spec: JobSpec) -> Any:
    """The job's ServiceAccount as ``reads.service_account`` answers, or ``_NO_ACCOUNT`` if the job needs none."""
    body = render_service_account(namespace, spec)
    if body is None:
        return _NO_ACCOUNT
    return await reads.service_account(namespace, body)


async def _ensure_service_account(
    client: AsyncClient, reads: ClusterReads, namespace: str, spec: JobSpec, existing: Any = _UNREAD
) -> None:
    """Create or update the job's ServiceAccount; ``existing`` is what ``_read_service_account`` returned
    (read here when not given)."""
    body = render_service_account(namespace, spec)
    if body is None:
        return
    if existing is _UNREAD:
        existing = await _read_service_account(reads, namespace, spec)
    if existing is _NO_ACCOUNT or existing is UP_TO_DATE:
        return
    name = body["metadata"]["name"]
    doing = f"ensuring ServiceAccount {namespace}/{name}"
    try:
        if existing is None:
            await client.create(cast(ServiceAccount, ServiceAccount.from_dict(body)))
        else:
            meta = existing.metadata
            have = {**((meta.labels if meta else None) or {}), **((meta.annotations if meta else None) or {})}
            want = {**body["metadata"]["labels"], **body["metadata"]["annotations"]}
            if any(have.get(k) != v for k, v in want.items()):
                patch = {"metadata": {k: body["metadata"][k] for k in ("labels", "annotations")}}
                await client.patch(ServiceAccount, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
    except KUBE_ERRORS as e:
        if not _is(e, 409):  # created meanwhile by another pass: fine
            raise kube_error(e, doing=doing) from e
    reads.remember_account(namespace, body)


async def _existing_pod(client: AsyncClient, job: JobRef, name: str) -> Pod:
    """Pod ``name``, which a create just found taken: ours if an earlier pass made it (the cache was behind)."""
    try:
        pod = await client.get(Pod, name, namespace=job.namespace)
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"reading pod {job.namespace}/{name}") from e
    if not _owned(job, [pod]):
        raise Unavailable(
            f"Pod {job.namespace}/{name} exists but does not belong to this TetherJob (an older job of the "
            "same name still being deleted?); retrying.",
            code="PodNameTaken",
        )
    return pod


async def _create_pod(client: AsyncClient, reads: ClusterReads, job: JobRef, manifest: dict[str, Any]) -> Pod:
    name = manifest["metadata"]["name"]
    try:
        return await client.create(cast(Pod, Pod.from_dict(manifest)))
    except KUBE_ERRORS as e:
        if _is(e, 409):
            return await _existing_pod(client, job, name)
        if _is(e, 403) and "service account" in str(e).lower():
            # The ServiceAccount admission refused it: the account believed current is gone. Read it again next pass.
            reads.forget_account(job.namespace, str(manifest["spec"].get("serviceAccountName")))
            raise Unavailable(f"pod {job.namespace}/{name}: {e}; recreating its ServiceAccount.") from e
        raise


async def _create_pods(
    client: AsyncClient,
    reads: ClusterReads,
    job: JobRef,
    spec: JobSpec,
    *,
    indexes: Iterable[int],
    instance_type: InstanceTypeInfo,
    settings: OperatorSettings,
    account: Any = _UNREAD,
) -> list[Pod]:
    """Create the pods ``indexes`` (and the ServiceAccount first); returns the created pods.

    ``account``: the ServiceAccount as ``_read_service_account`` returned it, if already read."""
    await _ensure_service_account(client, reads, job.namespace, spec, account)
    created: list[Pod] = []
    for index in indexes:
        manifest = render_pod(
            job, spec, index=index, instance_type=instance_type, extension_node_selector=settings.node_selector
        )
        try:
            pod = await _create_pod(client, reads, job, manifest)
        except KUBE_ERRORS as e:
            name = manifest["metadata"]["name"]
            if _is(e, 400, 422):
                await _delete_pods(client, job, created)
                text = e.status.message if isinstance(e, ApiError) else str(e)
                raise JobFailed(f"The API server refused pod {name}: {text}") from e
            raise kube_error(e, doing=f"creating pod {job.namespace}/{name}") from e
        reads.remember_pod(pod)
        created.append(pod)
    log.info("created %d pod(s) of TetherJob %s/%s", len(created), job.namespace, job.name)
    return created


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
        _read_service_account(reads, job.namespace, spec),
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
    tolerations = [GPU_TOLERATION] if instance_type.gpus else []
    rooms = node_rooms(nodes, active, node_selector=selector, tolerations=tolerations)
    plan = plan_gang(rooms, count=spec.instance_count, requests=pod_requests(instance_type), node_selector=selector)
    created: list[Pod] = []
    if plan.fits:
        account = _raise_if_error(account)
        indexes = range(spec.instance_count)
        created = await _create_pods(
            client, reads, job, spec, indexes=indexes, instance_type=instance_type, settings=settings, account=account
        )
    return plan, created


@contextlib.asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


class _StatusWriter:
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
            if _is(e, 404):
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
    await _create_pods(
        client, reads, job, spec, indexes=sorted(missing), instance_type=instance_type, settings=settings
    )
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
    writer = _StatusWriter(client, reads, job, previous, obj.metadata.generation)
    pods = _owned(job, labelled)
    try:
        spec = JobSpec.from_cr(obj.get("spec") or {})
        check_job_name(name)
        if spec.cancel_requested:
            seen = [view_pod(p) for p in pods]
            deleted = await _delete_pods(client, job, pods)
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
            deleted = await _delete_pods(client, job, _unfinished(pods))
            entries = entries_after_deleting(previous, seen=views, deleted=deleted, reason="JobFailed")
        await writer.write(verdict, pods=entries, admitted=True, count=spec.instance_count)
        return Outcome.FINISHED if verdict.phase in TERMINAL_PHASES else Outcome.ACTIVE
    except JobFailed as e:
        pods = await list_job_pods(reads, job, fresh=True)
        seen = [view_pod(p) for p in pods]
        deleted = await _delete_pods(client, job, _unfinished(pods))
        entries = entries_after_deleting(previous, seen=seen, deleted=deleted, reason="JobFailed")
        admitted = bool(pods) or bool(previous.get("startTime"))
        await writer.write(Verdict(FAILED, e.code, e.message), pods=entries, admitted=admitted)
        return Outcome.FINISHED
