"""Starting operations: the one way a long-running operation begins, and how it reaches its reconciler.

A provider calls ``start`` in the transaction that writes the resource: the operation is recorded
there. If the type's handler prepares hand-offs (``HandOffs``: today the job dispatcher, whose
latency users see), ``prepare`` reads in that same transaction what the first step needs and the
operation is leased to that reconciler there, so it runs without a lease transaction of its own.
After the commit the provider calls ``run``: a handed-off operation is queued for its reconciler,
which takes it before anything else; any other operation's reconciler is woken to lease it at once
rather than at its next idle poll.

A hand-off that is never run (the creating transaction failed: it is simply dropped; or the server
stopped first) is taken by any reconciler once its lease expires, like any operation interrupted
halfway. That lease is short (``HAND_OFF_LEASE_S``), so a job submitted just before a crash is
dispatched seconds after the restart, not after a whole lease; should a hand-off wait in the queue
longer than that, another reconciler may run it too, which the lease token check at apply and the
idempotent steps make harmless.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tether.domain.operations import Operation
from tether.domain.resources import Resource
from tether.domain.states import OperationKind
from tether.errors import TetherError
from tether.providers.base import StartedOperation
from tether.store import Session, operations

HAND_OFF_LEASE_S = 5.0


@runtime_checkable
class HandOffs(Protocol):
    """A handler that takes hand-offs: it reads its first step's input in the creating transaction."""

    async def prepare(self, session: Session, operation: Operation) -> object | None:
        """What the first step needs, read in the creating transaction; None: no hand-off for this one."""


@dataclass(frozen=True)
class _Taker:
    owner: str
    lease: dt.timedelta
    handler: HandOffs


class OperationStarter:
    """Starts operations for providers; wakes reconcilers and queues their hand-offs."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._takers: dict[str, _Taker] = {}
        self._handed_off: dict[str, deque[StartedOperation]] = {}

    async def start(self, session: Session, resource: Resource, kind: OperationKind) -> StartedOperation:
        """Record the operation in the caller's transaction, handed off if its type's handler takes hand-offs.

        A handler that cannot prepare (a ``TetherError``: a problem its reconciler will meet and report
        itself) or has nothing to prepare leaves the operation to the ordinary lease."""
        operation = await operations.create(session, resource, kind)
        taker = self._takers.get(operation.resource_type.lower())
        if taker is None:
            return StartedOperation(operation)
        try:
            prepared = await taker.handler.prepare(session, operation)
        except TetherError:
            return StartedOperation(operation)
        if prepared is None:
            return StartedOperation(operation)
        leased = await operations.take(session, operation.id, owner=taker.owner, lease=taker.lease)
        return StartedOperation(leased, prepared)

    def run(self, started: StartedOperation) -> None:
        """After the commit: queue a hand-off for its reconciler, and wake the type's reconciler."""
        full_type = started.operation.resource_type.lower()
        if started.prepared is not None:
            self._handed_off.setdefault(full_type, deque()).append(started)
        self._event(full_type).set()

    # The reconcilers' side.

    def take_hand_offs(self, types: Iterable[str], *, owner: str, lease: dt.timedelta, handler: HandOffs) -> None:
        """Operations of ``types`` are handed off to ``handler``'s reconciler (``owner``), leased for ``lease``."""
        for full_type in types:
            self._takers[full_type.lower()] = _Taker(owner, lease, handler)

    def next_hand_off(self, types: Iterable[str]) -> StartedOperation | None:
        for full_type in types:
            queue = self._handed_off.get(full_type.lower())
            if queue:
                return queue.popleft()
        return None

    async def wait_for_work(self, types: Iterable[str], *, timeout_s: float) -> None:
        """Return once an operation of ``types`` was started (or ``timeout_s`` passed: the idle poll)."""
        events = [self._event(t) for t in types]
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            for event in events:
                event.clear()

    def _event(self, full_type: str) -> asyncio.Event:
        return self._events.setdefault(full_type.lower(), asyncio.Event())
