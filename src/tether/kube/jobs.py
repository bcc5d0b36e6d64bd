"""The control plane's side of jobs in a cluster: submit a TetherJob, cancel it, read statuses, stream logs.

The ML extension's operator turns each TetherJob into pods and writes ``status`` back
(docs/ml-extension.md). Everything here is idempotent (a retried submit finds its job), and every
failure is one of Tether's errors (``kube_error``), never a raw client exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from tether.kube.access import ClusterConnection
from tether.kube.errors import KUBE_ERRORS, kube_error
from tether.kube.resources import TetherJob

MANAGED_LABEL = "tether.dev/managed-by"
JOB_ID_LABEL = "tether.dev/job-id"
POD_JOB_LABEL = "tether.dev/job"


async def submit(
    connection: ClusterConnection, *, namespace: str, name: str, spec: Mapping[str, Any], labels: Mapping[str, str]
) -> bool:
    """Create the TetherJob; False if it already existed (a retried dispatch), True if created now."""
    job = TetherJob(
        metadata=ObjectMeta(name=name, namespace=namespace, labels={MANAGED_LABEL: "tether", **labels}),
        spec=dict(spec),
    )
    try:
        await connection.kube.create(job)
    except ApiError as e:
        if e.status.code == 409:
            return False
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


async def statuses(
    connection: ClusterConnection, *, namespaces: Iterable[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """``status`` of every Tether-managed TetherJob in the namespaces, by (namespace, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for namespace in sorted(set(namespaces)):
        try:
            async for job in connection.kube.list(TetherJob, namespace=namespace, labels={MANAGED_LABEL: "tether"}):
                metadata = job.metadata
                if metadata is not None and metadata.name:
                    found[(namespace, metadata.name)] = dict(job.get("status") or {})
        except ApiError as e:
            if e.status.code == 404:  # namespace or CRD gone: its jobs are reported missing by the caller
                continue
            raise kube_error(e, doing=f"listing TetherJobs in {namespace}") from e
        except KUBE_ERRORS as e:
            raise kube_error(e, doing=f"listing TetherJobs in {namespace}") from e
    return found


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
