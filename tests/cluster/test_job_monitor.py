"""The job monitor against the real local cluster: TetherJob status → the job's status and timeline.

A real store (SQLite) holds dispatched jobs as the dispatcher leaves them; TetherJobs are created and
changed in the cluster by hand (no operator runs for this module), and the monitor runs as in the
server, watching the cluster through ``ClusterAccess``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.types import PatchType

from tether.domain.ids import parse_resource_id
from tether.domain.jobs import JobStatus, with_event
from tether.domain.models.jobs import JobPlacement, JobPrivate, JobRecord, JobSpec, JobState
from tether.domain.states import ProvisioningState
from tether.kube import extension_manifests as m
from tether.kube.access import ClusterAccess
from tether.kube.extension_install import install
from tether.kube.jobs import MANAGED_LABEL
from tether.kube.resources import TetherJob
from tether.localcluster import LocalCluster
from tether.reconcile.job_monitor import JobMonitor
from tether.store import Store, resources

pytestmark = pytest.mark.cluster

SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
CLUSTER = f"{SUBSCRIPTION}/providers/Microsoft.ContainerService/managedClusters/monitored"
WORKSPACE = f"{SUBSCRIPTION}/providers/Microsoft.MachineLearningServices/workspaces/ws"
SPEC = {
    "jobName": "j",
    "command": "python train.py",
    "image": "python:3.11",
    "computeName": "c1",
    "workspaceId": WORKSPACE,
    "instanceCount": 1,
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def crds(local_cluster: LocalCluster) -> None:
    async with local_cluster.client() as client:
        await install(client, m.ExtensionConfig(in_cluster=False))


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'tether.db'}")
    try:
        yield opened
    finally:
        await opened.close()


@pytest_asyncio.fixture
async def monitor(crds: None, store: Store, local_cluster: LocalCluster) -> AsyncIterator[JobMonitor]:
    text = local_cluster.kubeconfig_path.read_text()

    async def kubeconfigs(cluster_key: str) -> str | None:
        return text if cluster_key == parse_resource_id(CLUSTER).key else None

    access = ClusterAccess(kubeconfigs=kubeconfigs, relay=None)
    running = JobMonitor(store=store, access=access, interval_s=0.2, batch_s=0.05)
    running.start()
    try:
        yield running
    finally:
        await running.stop()
        await access.aclose()


async def _dispatched(store: Store, namespace: str, name: str) -> str:
    """A job row as the dispatcher leaves it: Queued, Dispatched in the timeline, its TetherJob named."""
    job_id = parse_resource_id(f"{WORKSPACE}/jobs/{name}")
    timeline = with_event(with_event([], "Queued", reason="waiting"), "Dispatched", reason="created")
    record = JobRecord(
        spec=JobSpec(command=SPEC["command"], computeId=f"{WORKSPACE}/computes/c1"),
        state=JobState(status=JobStatus.QUEUED, timeline=timeline),
        private=JobPrivate(placement=JobPlacement(cluster_job_name=name, namespace=namespace, cluster_id=CLUSTER)),
    )
    async with store.transaction() as session:
        await resources.insert(
            session,
            job_id,
            location=None,
            tags={},
            identity=None,
            properties=record,
            state=ProvisioningState.SUCCEEDED,
            principal_id="00000000-0000-0000-0000-0000000000aa",
        )
    return job_id.key


async def _state(store: Store, key: str) -> JobState:
    async with store.transaction() as session:
        row = await resources.get_by_key(session, key)
        assert row is not None
        return resources.read_properties(row, JobRecord).state


async def _until(store: Store, key: str, check: Callable[[JobState], bool], timeout: float = 10) -> JobState:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check(state := await _state(store, key)):
        assert asyncio.get_running_loop().time() < deadline, f"not reached: {state}"
        await asyncio.sleep(0.05)
    return state


async def _tether_job(client: AsyncClient, namespace: str, name: str) -> None:
    meta = ObjectMeta(name=name, namespace=namespace, labels={MANAGED_LABEL: "tether"})
    await client.create(TetherJob(metadata=meta, spec={**SPEC, "jobName": name}))


async def _set_status(client: AsyncClient, namespace: str, name: str, **status: Any) -> None:
    await client.patch(TetherJob.Status, name, {"status": status}, namespace=namespace, patch_type=PatchType.MERGE)


async def test_status_changes_in_the_cluster_reach_the_job_as_they_happen(
    monitor: JobMonitor, store: Store, kube_client: AsyncClient, namespace: str
) -> None:
    await _tether_job(kube_client, namespace, "watched")
    key = await _dispatched(store, namespace, "watched")
    monitor.wake.set()

    await _set_status(kube_client, namespace, "watched", phase="Running", reason="PodsRunning", message="1 of 1")
    running = await _until(store, key, lambda s: s.status == "Running")
    await _set_status(kube_client, namespace, "watched", phase="Succeeded", reason="PodsSucceeded", message="done")
    done = await _until(store, key, lambda s: s.status == "Completed")

    assert running.timeline[-1].phase == "Running"
    assert done.timeline[-1].phase == "Completed"
    assert done.error is None


async def test_a_deleted_tether_job_fails_its_job_as_lost(
    monitor: JobMonitor, store: Store, kube_client: AsyncClient, namespace: str
) -> None:
    await _tether_job(kube_client, namespace, "doomed")
    key = await _dispatched(store, namespace, "doomed")
    await _set_status(kube_client, namespace, "doomed", phase="Running", reason="PodsRunning", message="1 of 1")
    await _until(store, key, lambda s: s.status == "Running")

    await kube_client.delete(TetherJob, "doomed", namespace=namespace)
    lost = await _until(store, key, lambda s: s.status == "Failed")

    assert lost.error is not None
    assert lost.error.code == "JobLost"


async def test_a_tether_job_missing_from_the_watch_but_in_the_cluster_is_not_declared_lost(
    monitor: JobMonitor, store: Store, kube_client: AsyncClient, namespace: str
) -> None:
    # The watch selects Tether's label; a TetherJob without it is what a lagging watch looks like: absent
    # from the cache, present in the cluster. The monitor must ask the API server before failing the job.
    await _tether_job(kube_client, namespace, "watched")
    await _dispatched(store, namespace, "watched")
    unlabelled = ObjectMeta(name="unseen", namespace=namespace)
    await kube_client.create(TetherJob(metadata=unlabelled, spec={**SPEC, "jobName": "unseen"}))
    key = await _dispatched(store, namespace, "unseen")
    monitor.wake.set()
    with contextlib.suppress(AssertionError):
        await _until(store, key, lambda s: s.status != "Queued", timeout=1.5)

    assert (await _state(store, key)).status == "Queued"
    await kube_client.delete(TetherJob, "unseen", namespace=namespace)
    lost = await _until(store, key, lambda s: s.status == "Failed")
    assert lost.error is not None
    assert lost.error.code == "JobLost"
