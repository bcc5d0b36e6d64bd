"""``OperationView``: what a handler may know of the operation it works on, detached from any session.

Its own module so that both the loop (``engine``) and hand-offs (``hints``) can hold one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tether.domain.states import OperationKind


@dataclass(frozen=True)
class OperationView:
    id: str
    resource_key: str
    resource_type: str
    kind: OperationKind
    attempts: int
    prepared: Any = None
    """What the handler's ``prepare`` read when the operation was handed off (None otherwise)."""
