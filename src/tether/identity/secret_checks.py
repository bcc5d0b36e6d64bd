"""Checking client secrets and agent credentials: off the event loop, bounded, throttled, constant-cost.

A check is scrypt (``tether.crypto``, ~80 ms of CPU), so it must never run on the event loop or inside
a store transaction: callers read the stored hashes in a short transaction, then call ``verify``.

* Threads: at most ``secret_check_threads`` (default 1) checks run at once (an ``anyio`` capacity limiter over
  its worker threads; hashlib's scrypt releases the GIL); ``secret_check_queue`` more may wait. A
  burst past that is answered at once with ``Throttled`` (429, Retry-After 1) instead of queueing
  without bound, so a flood of wrong secrets costs the server that many cores at most, never its loop.
* Failures: a wrong secret counts against its client id (or cluster) and its source address, in a
  one-minute moving window (``limits``). Past ``failed_secrets_per_client`` / ``..._per_source``,
  requests of that client / from that source get ``Throttled`` with Retry-After = when the window
  frees, before any scrypt runs — as Entra ID throttles sign-ins. A correct secret is never counted,
  and a remembered one (below) is accepted even then.
* Unknown ids: an unknown client or cluster is checked against a dummy hash, so it costs what a known
  one does and answers in the same time (no enumeration of client ids by timing).
* Remembered: a secret that matched a stored hash is remembered for ``secret_check_memory_s`` (default
  10 minutes) as an HMAC of (that hash, the secret) under a key made at start and never stored, so the
  same client signing in again costs a dictionary lookup, not scrypt (a workload's token refreshes,
  CI jobs signing in every minute). Only a right secret can hit it, so its speed tells an attacker
  nothing; a removed or rotated secret stops matching at once, since its stored hash is no longer
  among those given to ``verify``. Wrong secrets are never remembered.

Hazard: the per-client limit means an attacker who knows a client id can hold off, for up to a minute
at a time, the sign-ins of that client that are not remembered (a first sign-in, or one after 10
minutes; Entra ID's smart lockout has the same trade-off); the per-source limit usually trips first.
The counters are per server process (see docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Sequence

import anyio
import anyio.to_thread
from cachetools import TTLCache
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from tether.crypto import hash_secret, secret_matches
from tether.errors import Throttled
from tether.settings import TokenSettings

_REMEMBERED = 10_000  # remembered right secrets at most (the least recently used go first)


class SecretChecks:
    def __init__(self, settings: TokenSettings) -> None:
        self._threads = anyio.CapacityLimiter(settings.secret_check_threads)
        self._max_waiting = settings.secret_check_queue
        self._in_flight = 0
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_client = RateLimitItemPerMinute(settings.failed_secrets_per_client)
        self._per_source = RateLimitItemPerMinute(settings.failed_secrets_per_source)
        self._dummy = hash_secret(secrets.token_urlsafe(32))
        self._memory_key = secrets.token_bytes(32)
        self._remembered: TTLCache[bytes, bool] = TTLCache(
            maxsize=_REMEMBERED, ttl=max(settings.secret_check_memory_s, 1e-9)
        )
        self._remembers = settings.secret_check_memory_s > 0

    @property
    def in_flight(self) -> int:
        """Checks running or waiting for a thread now."""
        return self._in_flight

    async def verify(self, secret: str, stored: Sequence[str], *, client: str, source: str | None = None) -> bool:
        """True if ``secret`` matches one of the ``stored`` hashes; an empty ``stored`` (unknown client)
        costs one check of a dummy hash and is False. ``Throttled`` if the client or source is over its limit."""
        # A remembered right secret first: it costs no scrypt and guesses nothing, so the throttles
        # below (which cap both) do not apply to it; a client whose id is under attack still signs in.
        if any(self._fingerprint(secret, hashed) in self._remembered for hashed in stored):
            return True
        await self._refuse_if_over(self._per_client, "client", client)
        if source:
            await self._refuse_if_over(self._per_source, "source", source)
        matched = await self._in_thread(secret, list(stored) or [self._dummy])
        if matched is None or not stored:
            await self._limiter.hit(self._per_client, "client", client)
            if source:
                await self._limiter.hit(self._per_source, "source", source)
            return False
        if self._remembers:
            self._remembered[self._fingerprint(secret, matched)] = True
        return True

    def _fingerprint(self, secret: str, hashed: str) -> bytes:
        return hmac.new(self._memory_key, f"{hashed}\0{secret}".encode(), hashlib.sha256).digest()

    async def _in_thread(self, secret: str, hashes: list[str]) -> str | None:
        if self._in_flight >= self._threads.total_tokens + self._max_waiting:
            raise Throttled("Too many sign-ins are being checked right now; retry in a second.", retry_after_s=1)
        self._in_flight += 1
        try:
            return await anyio.to_thread.run_sync(_any_matches, secret, hashes, limiter=self._threads)
        finally:
            self._in_flight -= 1

    async def _refuse_if_over(self, limit: RateLimitItem, kind: str, name: str) -> None:
        if await self._limiter.test(limit, kind, name):
            return
        reset_at, _remaining = await self._limiter.get_window_stats(limit, kind, name)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise Throttled(
            f"Too many failed sign-ins for this {kind} ('{name}'); retry after {retry_after} s. "
            f"Check the secret: more than {limit.amount} wrong ones per minute are refused without checking.",
            retry_after_s=retry_after,
        )


def _any_matches(secret: str, hashes: list[str]) -> str | None:
    """The stored hash ``secret`` matches, if any."""
    # Every hash is checked (no early exit), so the time does not tell which one matched.
    results = [secret_matches(secret, stored) for stored in hashes]
    return next((hashed for hashed, matched in zip(hashes, results, strict=True) if matched), None)
