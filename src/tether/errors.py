"""One error hierarchy for the whole server side.

Every failure a user can cause or meet is one of these, carrying an ARM error code, a message that
says what was wrong and what to do, and optionally a target and details. Nothing here knows HTTP:
`tether.api.errors` is the one place that maps each class to a status code. Lower layers raise these
(chained with ``from e``) instead of leaking library exceptions upward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of an ARM error's ``details`` list."""

    code: str
    message: str
    target: str | None = None


@dataclass
class TetherError(Exception):
    """Base of every error Tether reports to a user. Subclasses fix the category (and HTTP status)."""

    message: str
    code: str = "InternalServerError"
    target: str | None = None
    details: Sequence[ErrorDetail] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"({self.code}) {self.message}"


@dataclass
class InvalidRequest(TetherError):
    """The request is malformed: a bad id, name, body, parameter or value. Nothing was changed."""

    code: str = "InvalidRequestContent"


@dataclass
class Unauthenticated(TetherError):
    """No valid credential: missing, expired, forged or foreign token."""

    code: str = "InvalidAuthenticationToken"


@dataclass
class Forbidden(TetherError):
    """The caller is known but may not perform this action on this scope."""

    code: str = "AuthorizationFailed"


@dataclass
class NotFound(TetherError):
    """The addressed resource (or a resource it refers to) does not exist."""

    code: str = "ResourceNotFound"


@dataclass
class Conflict(TetherError):
    """The request contradicts the current state (already exists, in use, immutable field changed)."""

    code: str = "Conflict"


@dataclass
class AlreadyExists(Conflict):
    """A write lost a race: another request created the same row first (a unique key was taken).

    Providers answer a PUT that meets this as ARM does: run it again, as an update of what now exists."""

    code: str = "Conflict"


@dataclass
class PreconditionFailed(TetherError):
    """An ``If-Match`` / ``If-None-Match`` condition does not hold for the resource as it is now."""

    code: str = "PreconditionFailed"


@dataclass
class PayloadTooLarge(TetherError):
    """The request body exceeds the server's limit."""

    code: str = "RequestEntityTooLarge"


@dataclass
class Unavailable(TetherError):
    """A dependency (cluster, relay, store) cannot be reached now; retrying later may succeed."""

    code: str = "ServiceUnavailable"


@dataclass
class Throttled(TetherError):
    """Too many requests (failed sign-ins, say) from one client or source; retry after ``retry_after_s``."""

    code: str = "TooManyRequests"
    retry_after_s: int = 1


@dataclass
class DeadlineExceeded(TetherError):
    """A step did not finish within its deadline."""

    code: str = "OperationTimedOut"


@dataclass
class Internal(TetherError):
    """A failure inside Tether or a dependency that the caller cannot fix by changing the request."""

    code: str = "InternalServerError"


@dataclass
class StartupError(TetherError):
    """The server cannot start: a file in its data directory is missing, unreadable or inconsistent.

    The message names the file and says what to do; ``tether server`` prints it and exits 1."""

    code: str = "StartupFailed"


@dataclass
class TokenRequestError(TetherError):
    """A rejected OAuth 2.0 token request, answered in OAuth's shape (``error``, ``error_description``).

    ``code`` holds the OAuth error (``invalid_client``, ``invalid_request``, ``invalid_grant``,
    ``unsupported_grant_type``, ``invalid_scope``); the token endpoint maps it, not the ARM mapper.
    """

    code: str = "invalid_request"
