"""The reconcile loop: lease an operation, do its work outside any transaction, apply the result under the lease.

Each ``OperationHandler`` serves some resource types. ``execute`` does the network work (bounded by
the step deadline) and returns a result; ``apply`` writes it in a new transaction, which happens
only if the lease still holds. While ``execute`` runs, a heartbeat renews the lease every third of its
length, so a step longer than a lease is not taken by another server; if a renewal finds the token
gone (another owner took the row), the step is cancelled and abandoned. Operations handed off by
their creator (``hints.Claim``: leased and prepared in the creating transaction) are run before any
other, without a lease transaction.
Failures are typed (``TemporaryError``, ``PermanentError``); an unexpected exception is a bug: it
is logged with its traceback and fails the operation with ``InternalServerError`` rather than
retrying forever or killing the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from typing import Any, Protocol

from tether.domain.states import OperationKind, OperationStatus
from tether.errors import DeadlineExceeded, TetherError
from tether.reconcile.errors import PermanentError, TemporaryError
from tether.reconcile.hints import HAND_OFF_LEASE_S, Hints, Preparing
from tether.reconcile.stopping import cancel_until_done
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


class _LeaseLost(Exception):
    """The operation's lease was taken by another owner while its step ran."""


class Reconciler:
    """Runs one handler's loop until stopped."""

    def __init__(self, handler: OperationHandler, *, store: Store, hints: Hints, settings: ReconcileSettings) -> None:
        self._handler = handler
        self._store = store
        self._hints = hints
        self._settings = settings
        # Names the process, so that an operator (or a test) can tell which server holds a lease.
        self._owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
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
        lease = dt.timedelta(seconds=self._settings.lease_s)
        if claim is not None:
            hand_off_lease = min(lease, dt.timedelta(seconds=HAND_OFF_LEASE_S))
            await self._process(claim.view, claim.token, lease=hand_off_lease)
            return True

        async with self._store.transaction() as session:
            row = await operations.lease_next(session, resource_types=self._types, owner=self._owner, lease=lease)
            if row is None:
                return False
            view = OperationView(row.id, row.resource_key, row.resource_type, OperationKind(row.kind), row.attempts)
            token = row.lock_token or ""
        await self._process(view, token, lease=lease)
        return True

    async def _process(self, view: OperationView, token: str, *, lease: dt.timedelta) -> None:
        outcome: Any = None
        failure: TetherError | None = None
        delay: float | None = None
        try:
            outcome = await self._execute_leased(view, token, lease=lease)
        except _LeaseLost:
            log.warning("operation %s on %s lost its lease while running; step abandoned", view.id, view.resource_key)
            return
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

    async def _execute_leased(self, view: OperationView, token: str, *, lease: dt.timedelta) -> Any:
        """``execute`` under the step deadline, renewing the lease meanwhile; ``_LeaseLost`` if it went."""
        work = asyncio.ensure_future(asyncio.wait_for(self._handler.execute(view), self._settings.step_deadline_s))
        heartbeat = asyncio.ensure_future(self._renew_until_lost(view.id, token, lease=lease))
        try:
            await asyncio.wait({work, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if not work.done():  # the lease went (or we are being cancelled): stop the step
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
        if work.cancelled():
            raise _LeaseLost
        return work.result()

    async def _renew_until_lost(self, operation_id: str, token: str, *, lease: dt.timedelta) -> None:
        """Extend the lease every third of its length; return once it is no longer ours."""
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                async with self._store.transaction() as session:
                    still_ours = await operations.renew(session, operation_id, token, lease=lease)
            except Exception:  # the store is unreachable: keep working; the apply checks the token anyway
                log.warning("could not renew the lease of operation %s", operation_id, exc_info=True)
                continue
            if not still_ours:
                return

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
        tasks, self._tasks = self._tasks, []
        await cancel_until_done(tasks)
