"""Submitting a TetherJob (``tether.kube.jobs.submit``) against the real API server: what the create tells."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace

from tether.kube import extension_manifests as m
from tether.kube.access import ClusterConnection, direct_connection, parse_kubeconfig
from tether.kube.extension_install import install
from tether.kube.jobs import NamespaceUnusable, submit
from tether.kube.resources import TetherJob
from tether.localcluster import LocalCluster

pytestmark = pytest.mark.cluster

SPEC = {
    "jobName": "j",
    "command": "python train.py",
    "image": "python:3.11",
    "computeName": "c1",
    "workspaceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws",
    "instanceCount": 1,
}


@pytest_asyncio.fixture
async def connection(local_cluster: LocalCluster) -> AsyncIterator[ClusterConnection]:
    async with local_cluster.client() as client:
        await install(client, m.ExtensionConfig(in_cluster=False))
    opened = direct_connection(parse_kubeconfig(local_cluster.kubeconfig_path.read_text()))
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_first_submit_creates_and_a_repeated_one_finds_the_job(
    connection: ClusterConnection, kube_client: AsyncClient, namespace: str
) -> None:
    assert await submit(connection, namespace=namespace, name="once", spec=SPEC, labels={}) is True
    assert await submit(connection, namespace=namespace, name="once", spec=SPEC, labels={}) is False

    jobs = [j async for j in kube_client.list(TetherJob, namespace=namespace)]
    assert [j.metadata.name for j in jobs if j.metadata] == ["once"]


async def test_a_missing_namespace_is_reported_as_such(connection: ClusterConnection) -> None:
    missing = f"absent-{secrets.token_hex(3)}"

    with pytest.raises(NamespaceUnusable) as refused:
        await submit(connection, namespace=missing, name="j", spec=SPEC, labels={})

    assert refused.value.terminating is False
    assert refused.value.message == f"Namespace '{missing}' does not exist"


async def test_a_namespace_being_deleted_is_reported_as_such(
    connection: ClusterConnection, kube_client: AsyncClient
) -> None:
    name = f"leaving-{secrets.token_hex(3)}"
    await kube_client.create(Namespace(metadata=ObjectMeta(name=name)))
    # A finalizer on an object inside keeps the namespace Terminating until it is removed.
    held = ConfigMap(metadata=ObjectMeta(name="held", namespace=name, finalizers=["tether.dev/test-hold"]))
    await kube_client.create(held)
    await kube_client.delete(Namespace, name)
    try:
        with pytest.raises(NamespaceUnusable) as refused:
            await submit(connection, namespace=name, name="j", spec=SPEC, labels={})

        assert refused.value.terminating is True
        assert refused.value.message == f"Namespace '{name}' is being deleted"
    finally:
        with contextlib.suppress(ApiError):
            await kube_client.patch(ConfigMap, "held", {"metadata": {"finalizers": None}}, namespace=name)
