"""The operator's watch-fed cache (``Informer``) against the real API server: list, watch, write-through."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from lightkube import AsyncClient, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap

from tether.kube.informer import Informer
from tether.localcluster import LocalCluster

pytestmark = pytest.mark.cluster


def _config_map(namespace: str, name: str, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, labels={"app": "informed"}), data=data)


async def _eventually(check: Callable[[], bool], *, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the cache did not catch up"
        await asyncio.sleep(0.02)


class Changes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def __call__(self, obj: ConfigMap, gone: bool) -> None:
        assert obj.metadata is not None
        self.seen.append((str(obj.metadata.name), gone))


@pytest_asyncio.fixture
async def running(kube_client: AsyncClient, namespace: str) -> AsyncIterator[tuple[Informer[ConfigMap], Changes]]:
    """An informer on the test namespace's ConfigMaps labelled ``app=informed``, one of them there beforehand."""
    await kube_client.create(_config_map(namespace, "before", a="1"))
    changes = Changes()
    informer = Informer(kube_client, ConfigMap, namespace=namespace, labels={"app": "informed"}, on_change=changes)
    task = asyncio.create_task(informer.run())
    await asyncio.wait_for(informer.synced.wait(), 10)
    try:
        yield informer, changes
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_list_fills_the_cache_and_the_watch_follows_creates_updates_and_deletes(
    running: tuple[Informer[ConfigMap], Changes], kube_client: AsyncClient, namespace: str
) -> None:
    informer, changes = running
    assert [c.metadata.name for c in informer.values() if c.metadata] == ["before"]
    assert changes.seen == [("before", False)]

    await kube_client.create(_config_map(namespace, "after", b="2"))
    await kube_client.patch(ConfigMap, "before", {"data": {"a": "changed"}}, namespace=namespace)
    await kube_client.create(ConfigMap(metadata=ObjectMeta(name="unlabelled", namespace=namespace)))
    await kube_client.delete(ConfigMap, "after", namespace=namespace)

    await _eventually(lambda: ("after", True) in changes.seen and len(changes.seen) == 4)
    assert changes.seen == [("before", False), ("after", False), ("before", False), ("after", True)]
    before = informer.get((namespace, "before"))
    assert before is not None
    assert before.data == {"a": "changed"}
    assert informer.get((namespace, "after")) is None
    assert informer.get((namespace, "unlabelled")) is None


async def test_a_write_through_is_visible_at_once_and_the_watch_does_not_report_it_again(
    running: tuple[Informer[ConfigMap], Changes],
    kube_client: AsyncClient,
    namespace: str,
    local_cluster: LocalCluster,
) -> None:
    informer, changes = running
    # Created with a blocking client, so that the informer's watch (on this event loop) cannot take the
    # ADDED event before the write-through: the order a writer sees when its answer comes first.
    with Client(local_cluster.kubeconfig(), trust_env=False) as blocking:
        created = blocking.create(_config_map(namespace, "mine", c="3"))
    informer.remember(created)

    assert informer.get((namespace, "mine")) is created
    await kube_client.patch(ConfigMap, "before", {"data": {"a": "later"}}, namespace=namespace)
    await _eventually(lambda: len(changes.seen) == 2)  # the patch of "before" came after the create of "mine"
    assert changes.seen == [("before", False), ("before", False)]


async def test_an_older_version_never_replaces_a_newer_one_nor_revives_a_deleted_object(
    running: tuple[Informer[ConfigMap], Changes], kube_client: AsyncClient, namespace: str
) -> None:
    informer, changes = running
    first = await kube_client.create(_config_map(namespace, "versioned", v="1"))
    second = await kube_client.patch(ConfigMap, "versioned", {"data": {"v": "2"}}, namespace=namespace)
    await _eventually(lambda: (informer.get((namespace, "versioned")) or first).data == {"v": "2"})

    informer.remember(first)
    assert (informer.get((namespace, "versioned")) or first).data == {"v": "2"}

    await kube_client.delete(ConfigMap, "versioned", namespace=namespace)
    await _eventually(lambda: ("versioned", True) in changes.seen)
    informer.remember(second)  # an answer that arrives after the watch reported the deletion
    assert informer.get((namespace, "versioned")) is None


async def test_an_index_groups_objects_and_follows_label_changes(kube_client: AsyncClient, namespace: str) -> None:
    def by_team(obj: ConfigMap) -> tuple[str, str] | None:
        team = ((obj.metadata.labels if obj.metadata else None) or {}).get("team")
        return (namespace, team) if team else None

    informer = Informer(kube_client, ConfigMap, namespace=namespace, index_by=by_team)
    for name, team in (("a", "red"), ("b", "red"), ("c", "blue")):
        meta = ObjectMeta(name=name, namespace=namespace, labels={"team": team})
        await kube_client.create(ConfigMap(metadata=meta))
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert [c.metadata.name for c in informer.indexed((namespace, "red")) if c.metadata] == ["a", "b"]

        await kube_client.patch(ConfigMap, "b", {"metadata": {"labels": {"team": "blue"}}}, namespace=namespace)
        await kube_client.delete(ConfigMap, "c", namespace=namespace)
        await _eventually(lambda: len(informer.indexed((namespace, "red"))) == 1)
        await _eventually(lambda: [c.metadata.name for c in informer.indexed((namespace, "blue"))] == ["b"])
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
