"""After start-up the server takes its heap out of the garbage collector's full collections.

Before: every generation-2 collection walked the whole start-up heap with the event loop stopped
(44-104 ms under bench/load.py's load). ``settle_heap`` runs once, just before the server accepts requests.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from tether.api.server import settle_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def settled() -> Iterator[None]:
    assert gc.get_freeze_count() == 0, "another test left objects frozen"
    yield
    gc.unfreeze()  # this test process goes on collecting as before


def test_objects_alive_at_start_up_are_left_out_of_later_collections(settled: None) -> None:
    alive = Node()
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert not any(tracked is alive for tracked in gc.get_objects())  # no generation holds it now


def test_start_up_garbage_is_freed_rather_than_kept(settled: None) -> None:
    cycle = Node()
    cycle.other = cycle  # only a collection frees it
    freed = weakref.ref(cycle)
    del cycle
    settle_heap()
    assert freed() is None


def test_what_is_made_afterwards_is_collected_as_before(settled: None) -> None:
    settle_heap()
    cycle = Node()
    cycle.other = cycle
    freed = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert freed() is None
