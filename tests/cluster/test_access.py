"""``ClusterAccess`` keeps one connection per cluster, kind and timeout, against the real local cluster.

Each test builds its own ``ClusterAccess`` over a kubeconfig source it controls (the local cluster's admin
kubeconfig, possibly rewritten), so the pooling is seen directly: which ``ClusterConnection`` a
``connect`` block gets, whether it answers ``GET /version``, and when it is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
import yaml
from lightkube.resources.core_v1 import Namespace

from tether.errors import Unavailable
from tether.kube.access import ClusterAccess, ClusterConnection
from tether.localcluster import LocalCluster
from tether.relay.hub import RelayHub

pytestmark = pytest.mark.cluster

KEY = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/pool"


@dataclass
class Kubeconfigs:
    """The stored kubeconfig of one cluster, as the server's sealed store would hand it out (None: removed)."""

    text: str | None
    reads: int = 0

    async def __call__(self, cluster_key: str) -> str | None:
        assert cluster_key.casefold() == KEY.casefold()
        self.reads += 1
        await asyncio.sleep(0)  # a real source awaits the database: let concurrent connects interleave
        return self.text


@pytest.fixture
def kubeconfigs(local_cluster: LocalCluster) -> Kubeconfigs:
    return Kubeconfigs(local_cluster.kubeconfig_path.read_text())


@pytest.fixture
async def access(kubeconfigs: Kubeconfigs) -> AsyncIterator[ClusterAccess]:
    access = ClusterAccess(kubeconfigs=kubeconfigs, relay=None)
    try:
        yield access
    finally:
        await access.aclose()


def renamed_user(text: str) -> str:
    """The same cluster and credentials under another user and context name: a different kubeconfig text."""
    document = yaml.safe_load(text)
    (user,), (context,) = document["users"], document["contexts"]
    user["name"] = context["context"]["user"] = "rotated-admin"
    context["name"] = document["current-context"] = "rotated"
    return str(yaml.safe_dump(document, sort_keys=True))


async def version(connection: ClusterConnection) -> str:
    response = await connection.http.get("/version")
    assert response.status_code == 200, response.text
    return str(response.json()["gitVersion"])


async def assert_closed(connection: ClusterConnection) -> None:
    assert connection.closed
    assert connection.http.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await connection.kube.get(Namespace, "default")


async def test_sequential_connects_to_a_managed_cluster_share_one_connection(
    access: ClusterAccess, kubeconfigs: Kubeconfigs
) -> None:
    async with access.connect(KEY, connected=False) as first:
        first_version = await version(first)
    async with access.connect(KEY.upper(), connected=False) as second:
        assert second is first
        assert second.kube is first.kube
        assert not second.closed
        assert await version(second) == first_version
        assert (await second.kube.get(Namespace, "default")).metadata is not None
    assert kubeconfigs.reads == 2  # the kubeconfig is still read on every connect


async def test_other_timeouts_get_their_own_connection(access: ClusterAccess) -> None:
    async with access.connect(KEY, connected=False, timeout_s=10) as short:
        await version(short)
    async with access.connect(KEY, connected=False, timeout_s=30) as long:
        await version(long)
    assert long is not short
    assert long.http.timeout == httpx2.Timeout(30)
    async with access.connect(KEY, connected=False, timeout_s=10) as again:
        assert again is short


async def test_concurrent_connects_build_one_connection(access: ClusterAccess) -> None:
    async def use() -> ClusterConnection:
        async with access.connect(KEY, connected=False) as connection:
            await version(connection)
            return connection

    connections = await asyncio.gather(*(use() for _ in range(8)))

    assert len({id(c) for c in connections}) == 1
    assert not connections[0].closed


async def test_a_changed_kubeconfig_replaces_the_connection_and_closes_the_old_one_when_its_user_leaves(
    access: ClusterAccess, kubeconfigs: Kubeconfigs
) -> None:
    assert kubeconfigs.text is not None
    async with access.connect(KEY, connected=False) as old:
        await version(old)
        kubeconfigs.text = renamed_user(kubeconfigs.text)  # tether aks create again, same cluster

        async with access.connect(KEY, connected=False) as new:
            assert new is not old
            assert new.kube.config.context_name == "rotated"
            await version(new)
        assert not old.closed  # still in use by the outer block
        await version(old)

    await assert_closed(old)
    async with access.connect(KEY, connected=False) as again:
        assert again is new
        assert not again.closed
        await version(again)


async def test_a_changed_kubeconfig_closes_an_unused_connection_at_once(
    access: ClusterAccess, kubeconfigs: Kubeconfigs
) -> None:
    assert kubeconfigs.text is not None
    async with access.connect(KEY, connected=False) as old:
        await version(old)
    kubeconfigs.text = kubeconfigs.text + "\n"  # only the hash differs

    async with access.connect(KEY, connected=False) as new:
        await assert_closed(old)
        assert new is not old
        await version(new)


async def test_a_missing_kubeconfig_is_unauthorized_and_drops_the_pooled_connection(
    access: ClusterAccess, kubeconfigs: Kubeconfigs
) -> None:
    async with access.connect(KEY, connected=False) as pooled:
        await version(pooled)
    kubeconfigs.text = None  # the cluster was deleted

    with pytest.raises(Unavailable) as refused:
        async with access.connect(KEY, connected=False):
            pytest.fail("connected without a kubeconfig")

    assert refused.value.code == "ClusterUnauthorized"
    assert KEY in refused.value.message
    await assert_closed(pooled)


async def test_aclose_closes_every_connection_and_a_later_connect_builds_a_fresh_one(access: ClusterAccess) -> None:
    async with access.connect(KEY, connected=False, timeout_s=10) as first:
        await version(first)
    async with access.connect(KEY, connected=False, timeout_s=20) as second:
        await version(second)

    await access.aclose()

    await assert_closed(first)
    await assert_closed(second)
    async with access.connect(KEY, connected=False, timeout_s=10) as fresh:
        assert fresh is not first
        await version(fresh)


async def test_a_closed_connection_is_not_handed_out_again(access: ClusterAccess) -> None:
    async with access.connect(KEY, connected=False) as closed:
        await closed.close()

    async with access.connect(KEY, connected=False) as fresh:
        assert fresh is not closed
        await version(fresh)


async def test_idle_connections_are_closed_on_a_later_connect(kubeconfigs: Kubeconfigs) -> None:
    access = ClusterAccess(kubeconfigs=kubeconfigs, relay=None, idle_s=0.5)
    try:
        async with access.connect(KEY, connected=False, timeout_s=10) as idle:
            await version(idle)
        async with access.connect(KEY, connected=False, timeout_s=20) as busy:
            await asyncio.sleep(0.8)  # both past idle_s; only `idle` is unused
            async with access.connect(KEY, connected=False, timeout_s=30) as other:
                await version(other)
            await assert_closed(idle)
            assert not busy.closed
            await version(busy)

        async with access.connect(KEY, connected=False, timeout_s=10) as rebuilt:
            assert rebuilt is not idle
            await version(rebuilt)
        async with access.connect(KEY, connected=False, timeout_s=20) as reused:
            assert reused is busy  # used again before idle_s passed since its block ended
    finally:
        await access.aclose()


async def test_a_connected_cluster_without_an_agent_is_not_reachable_on_each_connect(kubeconfigs: Kubeconfigs) -> None:
    async def refuse(cluster_key: str, token: str) -> bool:
        return False

    access = ClusterAccess(kubeconfigs=kubeconfigs, relay=RelayHub(authenticate=refuse), idle_s=300)
    key = KEY.replace("Microsoft.ContainerService/managedClusters", "Microsoft.Kubernetes/connectedClusters")
    try:
        for _ in range(2):
            with pytest.raises(Unavailable) as refused:
                async with access.connect(key, connected=True):
                    pytest.fail("connected without an agent")
            assert refused.value.code == "ClusterNotReachable"
        assert kubeconfigs.reads == 0
    finally:
        await access.aclose()
