"""Leases are renewed while a step runs: a step longer than a lease is not run twice, and a step whose
lease was taken over is abandoned.

A real store (SQLite, or PostgreSQL with ``TETHER_TEST_POSTGRES_URL``) and two real ``Reconciler``s
standing for two servers; the handler is written here and blocks until the test releases it, so the
step lasts as long as the test needs without any timing assertion.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from tests.integration.test_handoffs import Recorder, _create, _status, _thing
from tether.domain.operations import Operation
from tether.domain.states import OperationStatus
from tether.reconcile.engine import Reconciler
from tether.reconcile.starter import OperationStarter
from tether.settings import ReconcileSettings
from tether.store import Store, operations

LEASE_S = 0.6


class Blocking(Recorder):
    """A step that runs until ``release`` is set, recording whether it was cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = False

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return await super().execute(operation, prepared)


def _server(store: Store, handler: Recorder) -> Reconciler:
    """A reconciler as one server runs it (a starter of its own: servers share only the store)."""
    return Reconciler(handler, store=store, starter=OperationStarter(), settings=ReconcileSettings(lease_s=LEASE_S))


async def test_a_step_longer_than_its_lease_is_not_taken_by_another_server(store: Store) -> None:
    slow, other = Blocking(), Recorder()
    first, second = _server(store, slow), _server(store, other)
    started = await _create(store, OperationStarter(), "long")
    operation_id = started.operation.id
    assert started.prepared is None
    running = asyncio.create_task(first.run_once())
    await slow.started.wait()

    await asyncio.sleep(LEASE_S * 3)  # three leases' worth: without renewal the row is free again
    taken_by_second = await second.run_once()
    slow.release.set()
    await running

    assert not taken_by_second
    assert other.executed == []
    assert slow.applied == [_thing("long").key]
    assert await _status(store, operation_id) == OperationStatus.SUCCEEDED.value


async def test_a_step_whose_lease_was_taken_over_is_abandoned(store: Store) -> None:
    slow = Blocking()
    first = _server(store, slow)
    operation_id = (await _create(store, OperationStarter(), "taken")).operation.id
    running = asyncio.create_task(first.run_once())
    await slow.started.wait()

    async with store.transaction() as session:  # what another server's lease_next does to an expired row
        await operations.take(session, operation_id, owner="another-server", lease=dt.timedelta(minutes=1))
    assert await asyncio.wait_for(running, timeout=30)  # the next heartbeat notices and cancels the step

    assert slow.cancelled
    assert slow.applied == []
    assert await _status(store, operation_id) == OperationStatus.IN_PROGRESS.value  # left to its new owner
