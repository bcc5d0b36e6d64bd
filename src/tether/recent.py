"""``Recent``: values read less than ``ttl_s`` ago, reused instead of being read again.

For facts that change rarely and are read on hot paths (a principal's role assignments, a cluster's
stored kubeconfig, what a job's dispatch needs to know of its cluster). A change made elsewhere — by
another server process on the same database — is noticed once the entry expires; a change made here
drops the entry at once (``forget``). A ``ttl_s`` of 0 keeps nothing.

Backed by ``cachetools.TTLCache``: expired entries are evicted as new ones arrive, and at most
``max_entries`` are kept (the least recently used go first), so memory is bounded however many
principals or clusters are seen. Not thread-safe: use it from the event loop only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 100_000


class Recent(Generic[K, V]):
    def __init__(
        self,
        ttl_s: float,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keeps = ttl_s > 0
        self._values: TTLCache[K, V] = TTLCache(maxsize=max_entries, ttl=max(ttl_s, 0.0), timer=clock)

    def get(self, key: K) -> V | None:
        """The value put less than ``ttl_s`` ago, or None."""
        return self._values.get(key)

    def put(self, key: K, value: V) -> V:
        if self._keeps:
            self._values[key] = value
        return value

    def forget(self, key: K | None = None) -> None:
        """Drop one key's value, or (``None``) every value."""
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)

    def __len__(self) -> int:
        """How many entries are held now (expired ones are evicted first)."""
        self._values.expire()
        return len(self._values)
