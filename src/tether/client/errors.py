"""Errors the Python client raises: the server's ARM error, or a failure to reach it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClientError(Exception):
    """Any failure the client reports; ``code`` and ``message`` come from the ARM error body when there is one."""

    message: str
    code: str = "ClientError"
    status: int | None = None
    details: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"({self.code}) {self.message}"


class NotLoggedIn(ClientError):
    """No profile: the user must run ``tether login`` first."""


class ServerUnreachable(ClientError):
    """The server did not answer (down, wrong address, TLS trust)."""


class OperationFailed(ClientError):
    """A long-running operation ended Failed or Canceled."""
