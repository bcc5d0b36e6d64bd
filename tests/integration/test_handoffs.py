"""Hand-offs: an operation leased and prepared in its creating transaction runs next, and stays safe.

A real store (SQLite, or PostgreSQL with ``TETHER_TEST_POSTGRES_URL``) and the real ``Reconciler``
and ``OperationStarter``; the handler is a small one written here (the engine's own protocol), recording what it
was given.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.operations import Operation
from tether.domain.states import OperationKind, OperationStatus, ProvisioningState
from tether.errors import TetherError
from tether.providers.base import StartedOperation
from tether.reconcile.engine import Reconciler
from tether.reconcile.starter import OperationStarter
from tether.settings import ReconcileSettings
from tether.store import Session, Store, operations, resources

THINGS = "Microsoft.Tests/things"


class Recorder:
    """Prepares ``{"for": key}`` and records each ``execute``: (key, prepared, attempts)."""

    resource_types: tuple[str, ...] = (THINGS,)

    def __init__(self) -> None:
        self.executed: list[tuple[str, Any, int]] = []
        self.applied: list[str] = []

    async def prepare(self, session: Session, operation: Operation) -> Any:
        return {"for": operation.resource_key}

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        self.executed.append((operation.resource_key, prepared, operation.attempts))
        return operation.resource_key

    async def apply(self, session: Session, operation: Operation, result: Any) -> None:
        self.applied.append(result)

    async def fail(self, session: Session, operation: Operation, error: TetherError) -> None:
        raise AssertionError(f"unexpected failure: {error}")

    async def after_commit(self, operation: Operation) -> None:
        return None


def _thing(name: str) -> ResourceId:
    return parse_resource_id(f"/subscriptions/00000000-0000-0000-0000-000000000001/providers/{THINGS}/{name}")


async def _create(store: Store, starter: OperationStarter, name: str) -> StartedOperation:
    """What a provider does: write the resource and start its operation, in one transaction."""
    async with store.transaction() as session:
        row = await resources.insert(
            session,
            _thing(name),
            location=None,
            tags={},
            identity=None,
            properties={},
            state=ProvisioningState.SUCCEEDED,
            principal_id="00000000-0000-0000-0000-0000000000aa",
        )
        return await starter.start(session, row, OperationKind.CREATE)


async def _status(store: Store, operation_id: str) -> str:
    async with store.transaction() as session:
        row = await operations.get(session, operation_id)
        assert row is not None
        return row.status


def _reconciler(store: Store, starter: OperationStarter, handler: Recorder, *, lease_s: float = 30.0) -> Reconciler:
    return Reconciler(handler, store=store, starter=starter, settings=ReconcileSettings(lease_s=lease_s))


async def test_a_handed_off_operation_runs_next_with_what_was_prepared_and_is_not_leased_again(store: Store) -> None:
    starter, handler = OperationStarter(), Recorder()
    reconciler = _reconciler(store, starter, handler)
    started = await _create(store, starter, "a")
    assert started.prepared is not None

    starter.run(started)
    assert await reconciler.run_once()

    key = _thing("a").key
    assert handler.executed == [(key, {"for": key}, 1)]
    assert handler.applied == [key]
    assert await _status(store, started.operation.id) == OperationStatus.SUCCEEDED.value
    assert not await reconciler.run_once()  # nothing left: the hand-off was the only copy of the work


async def test_without_a_reconciler_that_takes_them_nothing_is_handed_off(store: Store) -> None:
    starter = OperationStarter()
    started = await _create(store, starter, "b")

    assert started.prepared is None
    assert started.operation.lease_token is None
    handler = Recorder()
    assert await _reconciler(store, starter, handler).run_once()  # found by the ordinary lease
    assert handler.executed == [(_thing("b").key, None, 1)]
    assert await _status(store, started.operation.id) == OperationStatus.SUCCEEDED.value


async def test_a_hand_off_never_run_is_taken_by_any_reconciler_once_its_lease_expires(store: Store) -> None:
    starter, first = OperationStarter(), Recorder()
    _reconciler(store, starter, first, lease_s=1.0)
    started = await _create(store, starter, "c")
    assert started.prepared is not None  # ... and then the server stops before running it

    second = Recorder()
    survivor = _reconciler(store, OperationStarter(), second)
    assert not await survivor.run_once()  # leased by the hand-off: not yet
    await asyncio.sleep(1.1)
    assert await survivor.run_once()

    assert second.executed == [(_thing("c").key, None, 2)]
    assert await _status(store, started.operation.id) == OperationStatus.SUCCEEDED.value


async def test_a_hand_off_whose_lease_was_taken_over_is_not_applied(store: Store) -> None:
    starter, late = OperationStarter(), Recorder()
    reconciler = _reconciler(store, starter, late, lease_s=1.0)
    started = await _create(store, starter, "d")
    assert started.prepared is not None
    await asyncio.sleep(1.1)
    other = Recorder()
    assert await _reconciler(store, OperationStarter(), other).run_once()  # took the expired lease and finished

    starter.run(started)
    assert await reconciler.run_once()

    assert len(late.executed) == 1  # it ran (it could not know) ...
    assert late.applied == []  # ... but its result was not written over the new owner's
    assert other.applied == [_thing("d").key]
