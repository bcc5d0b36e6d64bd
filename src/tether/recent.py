"""``Recent``: values read less than ``ttl_s`` ago, reused instead of being read again.

For facts that change rarely and are read on hot paths (a principal's role assignments, a cluster's
stored kubeconfig, what a job's dispatch needs to know of its cluster). A change made elsewhere — by
another server process on the same database — is noticed once the entry expires; a change made here
drops the entry at once (``forget``). A ``ttl_s`` of 0 keeps nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._values: dict[K, tuple[V, float]] = {}

    def get(self, key: K) -> V | None:
        """The value put less than ``ttl_s`` ago, or None."""
        found = self._values.get(key)
        if found is None or self._clock() - found[1] >= self._ttl_s:
            return None
        return found[0]

    def put(self, key: K, value: V) -> V:
        if self._ttl_s > 0:
            self._values[key] = (value, self._clock())
        return value

    def forget(self, key: K | None = None) -> None:
        """Drop one key's value, or (``None``) every value."""
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)
