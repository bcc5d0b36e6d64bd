"""Keeps cluster connections open between uses, so each use does not pay for a new client and TLS handshake.

One entry per key, built on first use and shared by every user of that key (httpx and lightkube clients
take concurrent requests). An entry remembers a fingerprint of what it was built from (a kubeconfig's
hash): a different one retires it. A retired or evicted entry is closed at once if nobody uses it,
otherwise when its last user leaves. Entries idle longer than ``idle_s`` are closed on the next lease.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    @property
    def closed(self) -> bool: ...

    async def close(self) -> None: ...


C = TypeVar("C", bound=Closable)

# (cluster key casefolded, anything else that needs its own client: the connected flag, the timeout)
PoolKey = tuple[str, Hashable, Hashable]


@dataclass(eq=False)
class _Entry(Generic[C]):
    connection: C
    fingerprint: str
    last_used: float
    users: int = 0
    retired: bool = False


class ConnectionPool(Generic[C]):
    """Connections by key, each shared by its concurrent users and closed when retired, evicted or shut."""

    def __init__(self, *, idle_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._idle_s = idle_s
        self._clock = clock
        self._entries: dict[PoolKey, _Entry[C]] = {}

    @asynccontextmanager
    async def lease(self, key: PoolKey, *, fingerprint: str, build: Callable[[], C]) -> AsyncIterator[C]:
        """The key's connection (built if missing, stale or closed), kept open after the block.

        Lookup, ``build`` and insertion happen without an ``await`` in between, so concurrent leases
        of one key cannot build two connections; ``build`` must therefore be synchronous (and cheap).
        """
        now = self._clock()
        stale = {k for k, e in self._entries.items() if e.users == 0 and now - e.last_used > self._idle_s}
        entry = self._entries.get(key)
        if entry is not None and (key in stale or entry.fingerprint != fingerprint or entry.connection.closed):
            stale.add(key)
            entry = None
        dropped = [self._retire(k) for k in stale]
        if entry is None:
            try:
                entry = _Entry(build(), fingerprint, last_used=now)
            except BaseException:
                await self._close_unused(dropped)
                raise
            self._entries[key] = entry
        entry.users += 1
        entry.last_used = now
        try:
            await self._close_unused(dropped)
            yield entry.connection
        finally:
            entry.users -= 1
            entry.last_used = self._clock()
            if entry.retired or entry.connection.closed:
                if self._entries.get(key) is entry:
                    del self._entries[key]
                await self._close_unused([entry])

    async def forget(self, cluster: str) -> None:
        """Drop the cluster's entries (any flag, any timeout); close them now or when their users leave."""
        await self._close_unused([self._retire(k) for k in list(self._entries) if k[0] == cluster.casefold()])

    async def aclose(self) -> None:
        """Close every entry now, in use or not; the pool stays usable (the next lease builds afresh)."""
        entries = [self._retire(k) for k in list(self._entries)]
        for entry in entries:
            await entry.connection.close()

    def _retire(self, key: PoolKey) -> _Entry[C]:
        entry = self._entries.pop(key)
        entry.retired = True
        return entry

    @staticmethod
    async def _close_unused(entries: list[_Entry[C]]) -> None:
        for entry in entries:
            if entry.users == 0 and not entry.connection.closed:
                await entry.connection.close()
