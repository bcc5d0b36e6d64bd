"""A job's pods and ServiceAccount in the cluster: find them, create them, delete them.

Pods are named ``<cr>-<index>`` and owned by their TetherJob, so they are found by label and owner uid
(``owned``: not an older job of the same name) and a second create of one is refused by the API
server; a create that meets ``AlreadyExists`` accepts the pod if this job owns it (a pass that ran on a
cache that had not seen it yet) and is a temporary failure otherwise. The ServiceAccount carries the
compute identity's client id; it is created or patched before the pods, never deleted (a compute's
jobs share it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, cast

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Pod, ServiceAccount
from lightkube.types import PatchType

from tether.agents.extension.checks import OperatorSettings
from tether.agents.extension.job_status import FAILED, SUCCEEDED
from tether.agents.extension.jobspec import JobFailed, JobSpec
from tether.agents.extension.pods import JobRef, render_pod, render_service_account
from tether.agents.extension.pull_secrets import ensure_pull_secret
from tether.agents.extension.reads import UP_TO_DATE, ClusterReads
from tether.errors import Unavailable
from tether.kube.errors import KUBE_ERRORS, kube_error
from tether.kube.extension_status import InstanceTypeInfo

log = logging.getLogger(__name__)


def answered(error: Exception, *codes: int) -> bool:
    """Whether the API server refused the call with one of these status codes."""
    return isinstance(error, ApiError) and error.status.code in codes


def owned(job: JobRef, pods: Iterable[Pod]) -> list[Pod]:
    return [p for p in pods if p.metadata and any(o.uid == job.uid for o in p.metadata.ownerReferences or [])]


async def list_job_pods(reads: ClusterReads, job: JobRef, *, fresh: bool = False) -> list[Pod]:
    """The job's pods: labelled with its name and owned by this very object (not an older namesake)."""
    return owned(job, await reads.job_pods(job.namespace, job.name, fresh=fresh))


async def delete_pods(client: AsyncClient, job: JobRef, pods: Iterable[Pod]) -> list[str]:
    deleted = []
    for pod in pods:
        name = pod.metadata.name if pod.metadata and pod.metadata.name else ""
        deleted.append(name)
        if pod.metadata is not None and pod.metadata.deletionTimestamp is not None:
            continue
        try:
            await client.delete(Pod, name, namespace=job.namespace)
        except KUBE_ERRORS as e:
            if not answered(e, 404):
                raise kube_error(e, doing=f"deleting pod {job.namespace}/{name}") from e
    return deleted


def unfinished(pods: Iterable[Pod]) -> list[Pod]:
    return [p for p in pods if not (p.status and p.status.phase in (SUCCEEDED, FAILED))]


_NO_ACCOUNT = object()  # the job needs no ServiceAccount
_UNREAD = object()  # not read yet


async def read_service_account(reads: ClusterReads, namespace: str, spec: JobSpec) -> Any:
    """The job's ServiceAccount as ``reads.service_account`` answers, or ``_NO_ACCOUNT`` if the job needs none."""
    body = render_service_account(namespace, spec)
    if body is None:
        return _NO_ACCOUNT
    return await reads.service_account(namespace, body)


async def ensure_service_account(
    client: AsyncClient, reads: ClusterReads, namespace: str, spec: JobSpec, existing: Any = _UNREAD
) -> None:
    """Create or update the job's ServiceAccount; ``existing`` is what ``_read_service_account`` returned
    (read here when not given)."""
    body = render_service_account(namespace, spec)
    if body is None:
        return
    if existing is _UNREAD:
        existing = await read_service_account(reads, namespace, spec)
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
        if not answered(e, 409):  # created meanwhile by another pass: fine
            raise kube_error(e, doing=doing) from e
    reads.remember_account(namespace, body)


async def _existing_pod(client: AsyncClient, job: JobRef, name: str) -> Pod:
    """Pod ``name``, which a create just found taken: ours if an earlier pass made it (the cache was behind)."""
    try:
        pod = await client.get(Pod, name, namespace=job.namespace)
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"reading pod {job.namespace}/{name}") from e
    if not owned(job, [pod]):
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
        if answered(e, 409):
            return await _existing_pod(client, job, name)
        if answered(e, 403) and "service account" in str(e).lower():
            # The ServiceAccount admission refused it: the account believed current is gone. Read it again next pass.
            reads.forget_account(job.namespace, str(manifest["spec"].get("serviceAccountName")))
            raise Unavailable(f"pod {job.namespace}/{name}: {e}; recreating its ServiceAccount.") from e
        raise


async def create_pods(
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
    await ensure_service_account(client, reads, job.namespace, spec, account)
    await ensure_pull_secret(client, job, spec)
    created: list[Pod] = []
    for index in indexes:
        manifest = render_pod(
            job, spec, index=index, instance_type=instance_type, extension_node_selector=settings.node_selector
        )
        try:
            pod = await _create_pod(client, reads, job, manifest)
        except KUBE_ERRORS as e:
            name = manifest["metadata"]["name"]
            if answered(e, 400, 422):
                await delete_pods(client, job, created)
                text = e.status.message if isinstance(e, ApiError) else str(e)
                raise JobFailed(f"The API server refused pod {name}: {text}") from e
            raise kube_error(e, doing=f"creating pod {job.namespace}/{name}") from e
        reads.remember_pod(pod)
        created.append(pod)
    log.info("created %d pod(s) of TetherJob %s/%s", len(created), job.namespace, job.name)
    return created
