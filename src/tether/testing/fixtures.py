"""pytest fixtures for tests against the real local Kubernetes cluster (loaded as a pytest plugin).

``tests/conftest.py`` registers this module with ``pytest_plugins = ["tether.testing.fixtures"]``.

* ``local_cluster`` (session): one cluster per test session — 2 CPU nodes and 1 GPU node — started
  in a temporary directory and stopped at the end. Yields a :class:`LocalCluster` (``server_url``,
  ``ca_path``, ``kubeconfig_path``, ``issuer_url``, ``client()`` and ``client_for_token()`` factories).
* ``kube_client`` (function): an admin lightkube ``AsyncClient``, closed after the test.
* ``namespace`` (function): a fresh namespace (with its ``default`` service account) per test,
  deleted afterwards.

Being test entry points, these read the environment: ``TETHER_KUBE_BIN_DIR`` overrides the binaries
directory (default: the cache ``tools/kube/build.sh`` fills, under ``$XDG_CACHE_HOME`` or ``~/.cache``).
Missing binaries fail the requesting tests with the instruction to run ``make kube``. Hazards: the
cluster costs ~600 MB of RAM and ~4 s to start; namespace deletion is not awaited.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, ServiceAccount

from tether.localcluster import (
    BinariesMissing,
    LocalCluster,
    LocalClusterSpec,
    kubeversions,
    locate_binaries,
    start_cluster,
    stop_cluster,
)
from tether.localcluster.errors import RealNodeUnavailable
from tether.localcluster.realnode import missing_prerequisite

KUBE_BIN_DIR_ENV = "TETHER_KUBE_BIN_DIR"
#: "0" starts the session's cluster without its real node (kwok only); any other value or unset: one.
REAL_NODES_ENV = "TETHER_TEST_REAL_NODES"
TEST_NAMESPACE_LABEL = "tether.dev/test-namespace"


def _cache_home() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME")
    return Path(cache_home) if cache_home else Path.home() / ".cache"


def _bin_dir() -> Path:
    override = os.environ.get(KUBE_BIN_DIR_ENV)
    if override:
        return Path(override)
    return kubeversions.default_bin_dir(_cache_home())


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalCluster]:
    """The session's local cluster (2 CPU nodes, 1 GPU node, 1 real node), stopped when the session ends."""
    bin_dir = _bin_dir()
    try:
        locate_binaries(bin_dir)
    except BinariesMissing as e:
        pytest.fail(f"{e.message} (or point {KUBE_BIN_DIR_ENV} at them)", pytrace=False)
    node_bin_dir = kubeversions.default_node_bin_dir(_cache_home())
    images_dir = kubeversions.default_images_dir(_cache_home())
    real_nodes = 0 if os.environ.get(REAL_NODES_ENV) == "0" else 1
    reason = missing_prerequisite(bin_dir=node_bin_dir, images_dir=images_dir) if real_nodes else None
    if reason:
        pytest.fail(f"{reason} (or set {REAL_NODES_ENV}=0 for a kwok-only cluster)", pytrace=False)
    state_dir = tmp_path_factory.mktemp("local-cluster")
    spec = LocalClusterSpec(
        state_dir=state_dir,
        bin_dir=bin_dir,
        name="pytest",
        cpu_nodes=2,
        gpu_nodes=1,
        real_nodes=real_nodes,
        node_bin_dir=node_bin_dir,
        images_dir=images_dir,
    )
    try:
        cluster = await start_cluster(spec)
    except RealNodeUnavailable as e:
        pytest.fail(f"{e.message} (or set {REAL_NODES_ENV}=0)", pytrace=False)
    try:
        yield cluster
    finally:
        await asyncio.to_thread(stop_cluster, state_dir)
        # Keep certificates and logs for post-mortems; drop etcd's (preallocated, large) files.
        shutil.rmtree(cluster.paths.etcd_data, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def kube_client(local_cluster: LocalCluster) -> AsyncIterator[AsyncClient]:
    """An admin lightkube client for one test."""
    async with local_cluster.client() as client:
        yield client


async def _wait_for_default_service_account(client: AsyncClient, namespace: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.get(ServiceAccount, "default", namespace=namespace)
            return
        except ApiError as e:
            if e.status.code != 404 or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(local_cluster: LocalCluster) -> AsyncIterator[str]:
    """A fresh namespace for one test, ready for pods (its ``default`` service account exists)."""
    name = f"test-{secrets.token_hex(4)}"
    async with local_cluster.client() as client:
        await client.create(Namespace(metadata=ObjectMeta(name=name, labels={TEST_NAMESPACE_LABEL: "true"})))
        try:
            await _wait_for_default_service_account(client, name, timeout=30.0)
            yield name
        finally:
            await client.delete(Namespace, name)
