"""Wake-ups for reconcilers: providers call ``wake(type)`` after writing work, so loops don't wait for their poll."""

from __future__ import annotations

import asyncio


class Hints:
    """One event per resource type; a reconciler waits on the events of the types it serves."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def event(self, full_type: str) -> asyncio.Event:
        return self._events.setdefault(full_type.lower(), asyncio.Event())

    def wake(self, full_type: str) -> None:
        self.event(full_type).set()
