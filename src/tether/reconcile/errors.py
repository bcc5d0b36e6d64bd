"""How a reconcile step fails: temporarily (try again after a delay) or permanently (the operation fails).

A permanent failure carries the ARM error the user sees in ``provisioningErrors`` and the operation
status, so it must name what is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.errors import TetherError


@dataclass
class TemporaryError(Exception):
    """The step could not finish now (cluster unreachable, lease lost); retry after ``delay_s``."""

    message: str
    delay_s: float = 1.0

    def __str__(self) -> str:
        return self.message


@dataclass
class PermanentError(Exception):
    """The step cannot succeed without a change by the user; the operation fails with ``error``."""

    error: TetherError

    def __str__(self) -> str:
        return str(self.error)
