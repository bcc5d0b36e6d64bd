"""The reconcile loop: lease an operation, do its work outside any transaction, apply the result under the lease.

Each ``OperationHandler`` serves some resource types. ``execute`` does the network work (bounded by
the step deadline) and returns a result; ``apply`` writes it in a new transaction, which happens
only if the lease still holds. While ``execute`` runs, a heartbeat renews the lease every third of its
length, so a step longer than a lease is not taken by another server; if a renewal finds the token
gone (another owner took the row), the step is cancelled and abandoned. Operations handed off by
their creator (``starter``: leased and prepared in the creating transaction) are run before any
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

from tether.domain.operations import Operation
from tether.domain.states import OperationStatus
from tether.errors import DeadlineExceeded, TetherError
from tether.reconcile.errors import PermanentError, TemporaryError
from tether.reconcile.starter import HAND_OFF_LEASE_S, HandOffs, OperationStarter
from tether.reconcile.stopping import cancel_until_done
from tether.settings import ReconcileSettings
from tether.store import Session, Store, operations

log = logging.getLogger(__name__)


class OperationHandler(Protocol):
    resource_types: tuple[str, ...]

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        """Do the step's work; return a value for ``apply``. Raise TemporaryError/PermanentError.
        ``prepared``: what the handler's ``prepare`` read for a hand-off (``starter``), else None."""

    async def apply(self, session: Session, operation: Operation, result: Any) -> None:
        """Write the result (resource state) inside the lease-checked transaction."""

    async def fail(self, session: Session, operation: Operation, error: TetherError) -> None:
        """Record a permanent failure on the resource (the loop finishes the operation itself)."""

    async def after_commit(self, operation: Operation) -> None:
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

    def __init__(
        self, handler: OperationHandler, *, store: Store, starter: OperationStarter, settings: ReconcileSettings
    ) -> None:
        self._handler = handler
        self._store = store
        self._starter = starter
        self._settings = settings
        # Names the process, so that an operator (or a test) can tell which server holds a lease.
        self._owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._types = list(handler.resource_types)
        if isinstance(handler, HandOffs):
            lease = dt.timedelta(seconds=min(settings.lease_s, HAND_OFF_LEASE_S))
            starter.take_hand_offs(self._types, owner=self._owner, lease=lease, handler=handler)

    async def run_forever(self) -> None:
        while True:
            worked = await self.run_once()
            if not worked:
                await self._starter.wait_for_work(self._types, timeout_s=self._settings.idle_poll_s)

    async def run_once(self) -> bool:
        """Take and process one operation (a handed-off one first); False when there was none."""
        handed_off = self._starter.next_hand_off(self._types)
        lease = dt.timedelta(seconds=self._settings.lease_s)
        if handed_off is not None:
            hand_off_lease = min(lease, dt.timedelta(seconds=HAND_OFF_LEASE_S))
            await self._process(handed_off.operation, handed_off.prepared, lease=hand_off_lease)
            return True

        async with self._store.transaction() as session:
            operation = await operations.lease_next(session, resource_types=self._types, owner=self._owner, lease=lease)
        if operation is None:
            return False
        await self._process(operation, None, lease=lease)
        return True

    async def _process(self, operation: Operation, prepared: object | None, *, lease: dt.timedelta) -> None:
        token = operation.lease_token or ""
        outcome: Any = None
        failure: TetherError | None = None
        delay: float | None = None
        try:
            outcome = await self._execute_leased(operation, prepared, lease=lease)
        except _LeaseLost:
            log.warning(
                "operation %s on %s lost its lease while running; step abandoned", operation.id, operation.resource_key
            )
            return
        except TemporaryError as e:
            log.info("operation %s on %s will retry in %.1fs: %s", operation.id, operation.resource_key, e.delay_s, e)
            delay = e.delay_s
        except PermanentError as e:
            failure = e.error
        except TimeoutError:
            failure = DeadlineExceeded(
                f"The {operation.kind.value} of {operation.resource_key} did not finish within "
                f"{self._settings.step_deadline_s:.0f} s.",
            )
        except TetherError as e:
            failure = e
        except Exception as e:  # a bug: fail loudly instead of retrying forever
            log.exception("operation %s on %s crashed", operation.id, operation.resource_key)
            failure = TetherError(f"Tether failed unexpectedly: {type(e).__name__}: {e}")

        async with self._store.transaction() as session:
            held = await operations.held(session, operation.id, token)
            if held is None:
                log.info("operation %s lost its lease; leaving it to its new owner", operation.id)
                return
            if delay is not None:
                await operations.retry_later(session, held.id, delay=dt.timedelta(seconds=delay))
            elif failure is not None:
                await self._handler.fail(session, held, failure)
                await operations.finish(session, held.id, OperationStatus.FAILED, error=error_body(failure))
            else:
                await self._handler.apply(session, held, outcome)
                await operations.finish(session, held.id, OperationStatus.SUCCEEDED)
        await self._handler.after_commit(operation)

    async def _execute_leased(self, operation: Operation, prepared: object | None, *, lease: dt.timedelta) -> Any:
        """``execute`` under the step deadline, renewing the lease meanwhile; ``_LeaseLost`` if it went."""
        token = operation.lease_token or ""
        step = self._handler.execute(operation, prepared)
        work = asyncio.ensure_future(asyncio.wait_for(step, self._settings.step_deadline_s))
        heartbeat = asyncio.ensure_future(self._renew_until_lost(operation.id, token, lease=lease))
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
