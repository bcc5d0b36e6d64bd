"""Wake-ups and hand-offs: how providers get a reconciler to work now rather than at its next poll.

``wake(type)``: after writing work, so that the type's loop looks at once. ``claim`` and ``hand_off``,
for a step whose latency users see (a job's dispatch): in the transaction that creates the operation,
``claim`` lets the handler's ``prepare`` read what the step needs and leases the operation there; after
the commit, ``hand_off`` queues it for its reconciler, which runs it next without leasing it in a
transaction of its own. A claim never handed off (the creating transaction failed) is simply dropped;
one handed off to a server that stops before running it is taken by any reconciler once its lease
expires, like any operation interrupted halfway. That lease is short (``HAND_OFF_LEASE_S``), so a
job submitted just before a crash is dispatched seconds after the restart, not after a whole lease;
should a claim wait in the queue longer than that, another reconciler may run it too, which the lease
token check at apply and the idempotent steps make harmless.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from tether.domain.states import OperationKind
from tether.errors import TetherError
from tether.reconcile.views import OperationView
from tether.store import Session, operations
from tether.store.tables import OperationRow

HAND_OFF_LEASE_S = 5.0


@runtime_checkable
class Preparing(Protocol):
    """A handler that accepts hand-offs."""

    async def prepare(self, session: Session, operation: OperationRow) -> Any:
        """Read (in the creating transaction) what the first step needs; None: no hand-off for this one."""


@dataclass(frozen=True)
class Claim:
    """A leased operation (its ``prepared`` input in the view) waiting for its reconciler."""

    view: OperationView
    token: str


@dataclass(frozen=True)
class _Taker:
    owner: str
    lease: dt.timedelta
    handler: Preparing


class Hints:
    """One event per resource type, and the hand-offs waiting for each type's reconciler."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._takers: dict[str, _Taker] = {}
        self._claims: dict[str, deque[Claim]] = {}

    def event(self, full_type: str) -> asyncio.Event:
        return self._events.setdefault(full_type.lower(), asyncio.Event())

    def wake(self, full_type: str) -> None:
        self.event(full_type).set()

    def accept_hand_offs(self, types: Iterable[str], *, owner: str, lease: dt.timedelta, handler: Preparing) -> None:
        """Called by a reconciler whose handler can ``prepare``: operations of ``types`` may be claimed for it."""
        for full_type in types:
            self._takers[full_type.lower()] = _Taker(owner, lease, handler)

    async def claim(self, session: Session, operation: OperationRow) -> Claim | None:
        """Prepare and lease a just-created operation in its creating transaction; None if it is not handed
        off (no taker, nothing to prepare, or a problem the reconciler will meet and report itself)."""
        taker = self._takers.get(operation.resource_type.lower())
        if taker is None:
            return None
        try:
            prepared = await taker.handler.prepare(session, operation)
        except TetherError:
            return None
        if prepared is None:
            return None
        token = operations.take(operation, owner=taker.owner, lease=taker.lease)
        kind = OperationKind(operation.kind)
        view = OperationView(
            operation.id, operation.resource_key, operation.resource_type, kind, operation.attempts, prepared
        )
        return Claim(view, token)

    def hand_off(self, claim: Claim | None, full_type: str) -> None:
        """After the commit: queue the claim for its reconciler (or, without one, just ``wake`` it)."""
        if claim is not None:
            self._claims.setdefault(full_type.lower(), deque()).append(claim)
        self.wake(full_type)

    def next_claim(self, types: Iterable[str]) -> Claim | None:
        for full_type in types:
            queue = self._claims.get(full_type.lower())
            if queue:
                return queue.popleft()
        return None
