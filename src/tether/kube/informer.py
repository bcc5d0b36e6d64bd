"""A watch-fed cache of one kind of Kubernetes object (what client-go calls an informer).

``run`` lists the objects, replaces the cache with the list, marks the cache ``synced`` and then
watches from the list's resource version, applying every event; it returns or raises when the watch
fails (an expired version, a dropped connection), and the caller runs it again, which relists. Every
change the API server reports, including one found by a relist, is passed to ``on_change`` with the
object (its last known state, and ``gone=True``, when it was deleted), after the cache holds it.

A writer can write through its own changes (``remember``: the object an API call returned), so that
what it does next never sees the cache from before its write. A write-through never replaces a
newer version, and never brings back an object the watch already reported deleted (a bounded set of
tombstones), whichever of the API answer and the watch event arrives first; a write-through is not
reported to ``on_change``, and neither is the watch event that later brings the same version.

Hazards: reads are as fresh as the watch (milliseconds behind the API server, longer while a watch is
restarting): callers treat the cache as a hint for anything irreversible (the operator confirms
with a live read before declaring pods lost) and rely on the API server for uniqueness (pod names).
Resource versions are compared as integers, which holds for etcd-backed API servers; one that is not a
number always replaces what is cached.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from lightkube import AsyncClient

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str]
"""``(namespace, name)``; the namespace is ``""`` for cluster-scoped objects."""

MAX_TOMBSTONES = 4096


def object_key(obj: Any) -> Key | None:
    meta = obj.metadata
    if meta is None or not meta.name:
        return None
    return meta.namespace or "", meta.name


def _version(obj: Any) -> int | None:
    text = obj.metadata.resourceVersion if obj.metadata is not None else None
    return int(text) if text and text.isdigit() else None


class Informer(Generic[T]):
    """The objects of ``resource`` (in ``namespace``, ``"*"`` for all, ``None`` if cluster-scoped) that
    match ``labels`` and ``fields``, kept current by a watch; read with ``get`` and ``values``."""

    def __init__(
        self,
        client: AsyncClient,
        resource: type[T],
        *,
        namespace: str | None = None,
        labels: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        on_change: Callable[[T, bool], None] | None = None,
        index_by: Callable[[T], Key | None] | None = None,
    ) -> None:
        self._client = client
        self._resource = resource
        self._selection: dict[str, Any] = {"labels": labels, "fields": fields}
        if namespace is not None:
            self._selection["namespace"] = namespace
        self._on_change = on_change
        self._index_by = index_by
        self._objects: dict[Key, T] = {}
        self._index: dict[Key, set[Key]] = {}
        self._tombstones: OrderedDict[Key, int] = OrderedDict()
        self.synced = asyncio.Event()

    @property
    def kind(self) -> str:
        return getattr(self._resource, "__name__", str(self._resource))

    def get(self, key: Key) -> T | None:
        return self._objects.get(key)

    def values(self) -> list[T]:
        return list(self._objects.values())

    def indexed(self, index: Key) -> list[T]:
        """The objects that ``index_by`` maps to ``index`` (e.g. a job's pods)."""
        return [self._objects[key] for key in sorted(self._index.get(index, ()))]

    async def run(self) -> None:
        """List, then watch until the watch fails (raised) or ends (returns); run again to relist."""
        client: Any = self._client  # lightkube's overloads do not cover a resource type held in a variable
        listing = client.list(self._resource, **self._selection)
        fresh: dict[Key, T] = {}
        async for obj in listing:
            if (key := object_key(obj)) is not None:
                fresh[key] = obj
        self._replace(fresh)
        self.synced.set()
        log.debug("%s informer synced: %d objects at version %s", self.kind, len(fresh), listing.resourceVersion)
        async for change, obj in client.watch(
            self._resource, resource_version=listing.resourceVersion, **self._selection
        ):
            if change == "DELETED":
                self._delete(obj)
            elif change in ("ADDED", "MODIFIED"):
                self._store(obj, from_watch=True)

    def remember(self, obj: T) -> None:
        """Write through an object the API server just returned (created, patched)."""
        self._store(obj, from_watch=False)

    def _replace(self, fresh: dict[Key, T]) -> None:
        gone = [key for key in self._objects if key not in fresh]
        for key in gone:
            last = self._objects[key]
            self._put(key, None)
            self._changed(last, gone=True)
        for key, obj in fresh.items():
            self._tombstones.pop(key, None)
            self._put(key, obj)
            self._changed(obj, gone=False)

    def _store(self, obj: T, *, from_watch: bool) -> None:
        key = object_key(obj)
        if key is None:
            return
        version = _version(obj)
        deleted_at = self._tombstones.get(key)
        if deleted_at is not None and (version is None or version <= deleted_at):
            return  # a late write-through (or replay) of an object the watch already saw deleted
        cached = self._objects.get(key)
        cached_version = _version(cached) if cached is not None else None
        if cached_version is not None and version is not None and version <= cached_version:
            return  # already known: the watch catching up with a write-through, or a replay
        self._tombstones.pop(key, None)
        self._put(key, obj)
        if from_watch:  # a writer's own changes need no reaction from it
            self._changed(obj, gone=False)

    def _delete(self, obj: T) -> None:
        key = object_key(obj)
        if key is None:
            return
        self._tombstones[key] = _version(obj) or 0
        self._tombstones.move_to_end(key)
        while len(self._tombstones) > MAX_TOMBSTONES:
            self._tombstones.popitem(last=False)
        if key in self._objects:
            self._put(key, None)
            self._changed(obj, gone=True)

    def _put(self, key: Key, obj: T | None) -> None:
        """Set (or, with ``None``, drop) the cached object and keep the index in step."""
        if self._index_by is not None:
            old = self._objects.get(key)
            before = self._index_by(old) if old is not None else None
            after = self._index_by(obj) if obj is not None else None
            if before != after and before is not None:
                self._index[before].discard(key)
                if not self._index[before]:
                    del self._index[before]
            if after is not None:
                self._index.setdefault(after, set()).add(key)
        if obj is None:
            self._objects.pop(key, None)
        else:
            self._objects[key] = obj

    def _changed(self, obj: T, *, gone: bool) -> None:
        if self._on_change is not None:
            self._on_change(obj, gone)
