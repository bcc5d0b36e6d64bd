"""Stopping background loops ends them even when a loop survives its first cancellation."""

from __future__ import annotations

import asyncio

import pytest

from tether.reconcile.stopping import cancel_until_done


async def _loop_that_loses_one_cancellation(polls_after_lost: list[int]) -> None:
    """A poll loop whose database call turned a cancellation into the driver's error, caught as a failed poll."""
    lost = False
    while True:
        try:
            if lost:
                polls_after_lost.append(1)
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            if lost:
                raise
            lost = True
            asyncio.current_task().uncancel()  # type: ignore[union-attr]  # what a swallowed cancellation leaves


async def _failing() -> None:
    raise RuntimeError("boom")


async def test_a_loop_that_survives_one_cancellation_is_cancelled_again_and_ends() -> None:
    polls_after_lost: list[int] = []
    task = asyncio.create_task(_loop_that_loses_one_cancellation(polls_after_lost))
    await asyncio.sleep(0.05)

    await asyncio.wait_for(cancel_until_done([task]), timeout=30)  # a hang detector, not a timing goal

    assert polls_after_lost, "the first cancellation was lost and the loop kept polling"
    assert task.cancelled()


async def test_tasks_that_ended_with_an_error_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    task = asyncio.create_task(_failing())
    await asyncio.sleep(0)
    plain = asyncio.create_task(asyncio.sleep(60))

    await cancel_until_done([task, plain])

    assert plain.cancelled()
    assert isinstance(task.exception(), RuntimeError)
    assert "ended with an error" in caplog.text
