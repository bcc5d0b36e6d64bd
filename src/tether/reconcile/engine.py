"""The reconcile loop: lease an operation, do its work outside any transaction, apply the result under the lease.

Each ``OperationHandler`` serves some resource types. ``execute`` does the network work (bounded by
the step deadline) and returns a result; ``apply`` writes it in a new transaction, which happens
only if the lease still holds. Operations handed off by their creator (``hints.Claim``: leased and
prepared in the creating transaction) are run before any other, without a lease transaction.
Failures are typed (``TemporaryError``, ``PermanentError``); an unexpected exception is a bug: it
is logged with its traceback and fails the operation with ``InternalServerError`` rather than
retrying forever or killing the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from typing import Any, Protocol

from tether.domain.states import OperationKind, OperationStatus
from tether.errors import DeadlineExceeded, TetherError
from tether.reconcile.errors import PermanentError, TemporaryError
from tether.reconcile.hints import HAND_OFF_LEASE_S, Hints, Preparing
from tether.reconcile.views import OperationView
from tether.settings import ReconcileSettings
from tether.store import Session, Store, operations
from tether.store.tables import OperationRow

log = logging.getLogger(__name__)


class OperationHandler(Protocol):
    resource_types: tuple[str, ...]

    async def execute(self, operation: OperationView) -> Any:
        """Do the step's work; return a value for ``apply``. Raise TemporaryError/PermanentError."""

    async def apply(self, session: Session, operation: OperationRow, result: Any) -> None:
        """Write the result (resource state, operation status) inside the lease-checked transaction."""

    async def fail(self, session: Session, operation: OperationRow, error: TetherError) -> None:
        """Record a permanent failure on the resource (the loop finishes the operation itself)."""

    async def after_commit(self, operation: OperationView) -> None:
        """Run once the result is committed: drop caches that the change made stale."""


def error_body(error: TetherError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.target:
        body["target"] = error.target
    if error.details:
        body["details"] = [{"code": d.code, "message": d.message, "target": d.target} for d in error.details]
    return body


class Reconciler:
    """Runs one handler's loop until stopped."""

    def __init__(self, handler: OperationHandler, *, store: Store, hints: Hints, settings: ReconcileSettings) -> None:
        self._handler = handler
        self._store = store
        self._hints = hints
        self._settings = settings
        self._owner = f"reconciler-{uuid.uuid4().hex[:12]}"
        self._types = list(handler.resource_types)
        if isinstance(handler, Preparing):
            lease = dt.timedelta(seconds=min(settings.lease_s, HAND_OFF_LEASE_S))
            hints.accept_hand_offs(self._types, owner=self._owner, lease=lease, handler=handler)

    async def run_forever(self) -> None:
        while True:
            worked = await self.run_once()
            if not worked:
                await self._wait_for_hint()

    async def run_once(self) -> bool:
        """Take and process one operation (a handed-off one first); False when there was none."""
        claim = self._hints.next_claim(self._types)
        if claim is not None:
            await self._process(claim.view, claim.token)
            return True

        lease = dt.timedelta(seconds=self._settings.lease_s)
        async with self._store.transaction() as session:
            row = await operations.lease_next(session, resource_types=self._types, owner=self._owner, lease=lease)
            if row is None:
                return False
            view = OperationView(row.id, row.resource_key, row.resource_type, OperationKind(row.kind), row.attempts)
            token = row.lock_token or ""
        await self._process(view, token)
        return True

    async def _process(self, view: OperationView, token: str) -> None:
        outcome: Any = None
        failure: TetherError | None = None
        delay: float | None = None
        try:
            outcome = await asyncio.wait_for(self._handler.execute(view), self._settings.step_deadline_s)
        except TemporaryError as e:
            log.info("operation %s on %s will retry in %.1fs: %s", view.id, view.resource_key, e.delay_s, e)
            delay = e.delay_s
        except PermanentError as e:
            failure = e.error
        except TimeoutError:
            failure = DeadlineExceeded(
                f"The {view.kind.value} of {view.resource_key} did not finish within "
                f"{self._settings.step_deadline_s:.0f} s.",
            )
        except TetherError as e:
            failure = e
        except Exception as e:  # a bug: fail loudly instead of retrying forever
            log.exception("operation %s on %s crashed", view.id, view.resource_key)
            failure = TetherError(f"Tether failed unexpectedly: {type(e).__name__}: {e}")

        async with self._store.transaction() as session:
            row = await operations.held(session, view.id, token)
            if row is None:
                log.info("operation %s lost its lease; leaving it to its new owner", view.id)
                return
            if delay is not None:
                operations.retry_later(row, delay=dt.timedelta(seconds=delay))
            elif failure is not None:
                await self._handler.fail(session, row, failure)
                operations.finish(row, OperationStatus.FAILED, error=error_body(failure))
            else:
                await self._handler.apply(session, row, outcome)
                if row.status == OperationStatus.IN_PROGRESS.value:
                    operations.finish(row, OperationStatus.SUCCEEDED)
        await self._handler.after_commit(view)

    async def _wait_for_hint(self) -> None:
        events = [self._hints.event(t) for t in self._types]
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=self._settings.idle_poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            for e in events:
                e.clear()


class ReconcilerSet:
    """All reconcilers of a server, started and stopped together with it."""

    def __init__(self, reconcilers: list[Reconciler]) -> None:
        self._reconcilers = reconcilers
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(r.run_forever(), name="reconciler") for r in self._reconcilers]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
