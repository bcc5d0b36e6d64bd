"""The control plane's side of jobs in a cluster: submit a TetherJob, cancel it, read statuses, stream logs.

The ML extension's operator turns each TetherJob into pods and writes ``status`` back
(docs/ml-extension.md). Everything here is idempotent (a retried submit finds its job), and every
failure is one of Tether's errors (``kube_error``), never a raw client exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from lightkube.core.exceptions import ApiError
from lightkube.types import PatchType
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod

from tether.kube.access import ClusterConnection
from tether.kube.extension_install import KUBE_ERRORS, TetherJob, kube_error

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


async def stream_logs(connection: ClusterConnection, *, namespace: str, pod: str, follow: bool) -> AsyncIterator[str]:
    """A pod's log, line by line (following it until the pod ends when ``follow``)."""
    try:
        async for line in connection.kube.log(pod, namespace=namespace, follow=follow):
            yield line
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"reading the log of pod {namespace}/{pod}") from e
