"""The control plane's side of jobs in a cluster: submit a TetherJob, cancel it, watch statuses, stream logs.

The ML extension's operator turns each TetherJob into pods and writes ``status`` back
(docs/ml-extension.md). Everything here is idempotent (a retried submit finds its job), and every
failure is one of Tether's errors (``kube_error``), never a raw client exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from tether.errors import NotFound
from tether.kube.access import ClusterConnection
from tether.kube.errors import KUBE_ERRORS, get_or_none, kube_error
from tether.kube.informer import Informer
from tether.kube.resources import TetherJob

MANAGED_LABEL = "tether.dev/managed-by"
JOB_ID_LABEL = "tether.dev/job-id"
POD_JOB_LABEL = "tether.dev/job"


@dataclass
class NamespaceUnusable(NotFound):
    """The namespace to create in does not exist, or is being deleted (``terminating``)."""

    code: str = "NamespaceNotFound"
    terminating: bool = False


def _namespace_refusal(error: ApiError, namespace: str) -> NamespaceUnusable | None:
    """What the API server's admission says when the namespace is missing (404 naming the namespace) or
    terminating (403 ``NamespaceTerminating``); ``None`` for any other refusal."""
    details = error.status.details
    if error.status.code == 404 and details is not None and details.kind == "namespaces":
        return NamespaceUnusable(f"Namespace '{namespace}' does not exist")
    causes = (details.causes if details is not None else None) or []
    if error.status.code == 403 and any(c.reason == "NamespaceTerminating" for c in causes):
        return NamespaceUnusable(f"Namespace '{namespace}' is being deleted", terminating=True)
    return None


async def submit(
    connection: ClusterConnection, *, namespace: str, name: str, spec: Mapping[str, Any], labels: Mapping[str, str]
) -> bool:
    """Create the TetherJob; False if it already existed (a retried dispatch), True if created now.

    ``NamespaceUnusable`` if the namespace does not exist or is being deleted: one request tells, instead of
    a namespace read before every create."""
    job = TetherJob(
        metadata=ObjectMeta(name=name, namespace=namespace, labels={MANAGED_LABEL: "tether", **labels}),
        spec=dict(spec),
    )
    try:
        await connection.kube.create(job)
    except ApiError as e:
        if e.status.code == 409:
            return False
        if (refusal := _namespace_refusal(e, namespace)) is not None:
            raise refusal from e
        raise kube_error(e, doing=f"creating TetherJob {namespace}/{name}") from e
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"creating TetherJob {namespace}/{name}") from e
    return True


async def request_cancel(connection: ClusterConnection, *, namespace: str, name: str) -> bool:
    """Set ``spec.cancelRequested``; False if the TetherJob does not exist (nothing to stop)."""
    try:
        # Custom resources take JSON merge patches, not strategic merge patches (lightkube's default).
        await connection.kube.patch(
            TetherJob, name, {"spec": {"cancelRequested": True}}, namespace=namespace, patch_type=PatchType.MERGE
        )
    except ApiError as e:
        if e.status.code == 404:
            return False
        raise kube_error(e, doing=f"canceling TetherJob {namespace}/{name}") from e
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"canceling TetherJob {namespace}/{name}") from e
    return True


def watch_jobs(connection: ClusterConnection, namespace: str, *, on_change: Callable[[], None]) -> Informer[Any]:
    """A watch-fed cache of the namespace's Tether-managed TetherJobs; run it with ``follow_jobs``."""
    return Informer(
        connection.kube,
        TetherJob,
        namespace=namespace,
        labels={MANAGED_LABEL: "tether"},
        on_change=lambda _job, _gone: on_change(),
    )


async def follow_jobs(jobs: Informer[Any], namespace: str) -> None:
    """Keep ``jobs`` current until the watch fails: ``NotFound`` if the TetherJob CRD is gone, another
    Tether error otherwise (run it again to relist)."""
    try:
        await jobs.run()
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"watching TetherJobs in {namespace}") from e


async def read_status(connection: ClusterConnection, namespace: str, name: str) -> dict[str, Any] | None:
    """The TetherJob's ``status`` as the API server has it now; None if there is no such TetherJob."""
    job = await get_or_none(connection.kube, TetherJob, name, namespace=namespace)
    return None if job is None else dict(job.get("status") or {})


def job_status(jobs: Informer[Any], namespace: str, name: str) -> dict[str, Any] | None:
    """The TetherJob's ``status`` as the cache holds it; None if there is no such TetherJob."""
    job = jobs.get((namespace, name))
    return None if job is None else dict(job.get("status") or {})


async def job_pods(connection: ClusterConnection, *, namespace: str, name: str) -> list[str]:
    try:
        pods = [p async for p in connection.kube.list(Pod, namespace=namespace, labels={POD_JOB_LABEL: name})]
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"listing the pods of job {namespace}/{name}") from e
    return sorted(p.metadata.name for p in pods if p.metadata and p.metadata.name)


async def stream_logs(
    connection: ClusterConnection, *, namespace: str, pod: str, follow: bool, poll_s: float = 1.0
) -> AsyncIterator[str]:
    """A pod's log, line by line; with ``follow``, until the pod has finished.

    A kubelet ends a followed log when the container exits, but not every node does (simulated ones
    keep it open), so the pod's phase is watched too: once it has ended, what is buffered is drained
    and the stream closes.
    """
    if not follow:
        try:
            async for line in connection.kube.log(pod, namespace=namespace):
                yield line
        except KUBE_ERRORS as e:
            raise kube_error(e, doing=f"reading the log of pod {namespace}/{pod}") from e
        return
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    failures: list[Exception] = []

    async def read() -> None:
        try:
            async for line in connection.kube.log(pod, namespace=namespace, follow=True):
                await lines.put(line)
        except KUBE_ERRORS as e:
            failures.append(e)
        finally:
            await lines.put(None)

    async def watch_phase() -> None:
        while True:
            await asyncio.sleep(poll_s)
            current = await connection.kube.get(Pod, pod, namespace=namespace)
            if current.status is not None and current.status.phase in ("Succeeded", "Failed"):
                await asyncio.sleep(poll_s)  # let the last lines arrive
                reader.cancel()
                return

    reader = asyncio.create_task(read())
    watcher = asyncio.create_task(watch_phase())
    try:
        while (queued := await lines.get()) is not None:
            yield queued
        if failures:
            raise kube_error(failures[0], doing=f"reading the log of pod {namespace}/{pod}")
    finally:
        for task in (reader, watcher):
            task.cancel()
        await asyncio.gather(reader, watcher, return_exceptions=True)
