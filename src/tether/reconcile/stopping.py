"""Stopping background loops: cancel, and cancel again until each has ended.

A cancellation can be lost, and then a single ``cancel()`` leaves the loop running and a shutdown that
awaits it waits forever. Seen once in the PostgreSQL integration tier: at teardown one reconciler was
"cancelling" yet still polling, and the server never closed. The await that dropped it was not
identified. Candidates: a driver error raised while a cancelled query is rolled back, which replaces
the CancelledError and which a loop survives as a failed poll; or Python 3.11's ``asyncio.wait_for``,
which can drop a cancellation that races with its inner task finishing. So each task still running
after a second is cancelled again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

#: How long a cancelled task may take to end before it is cancelled again.
RETRY_S = 1.0


async def cancel_until_done(tasks: Iterable[asyncio.Task[object]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended; errors they ended with are logged."""
    tasks = list(tasks)
    attempts = 0
    while pending := [t for t in tasks if not t.done()]:
        if attempts:
            log.warning("%d background task(s) survived cancellation; cancelling again", len(pending))
        for task in pending:
            task.cancel()
        attempts += 1
        await asyncio.wait(pending, timeout=RETRY_S)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("background task %s ended with an error", task.get_name(), exc_info=error)
