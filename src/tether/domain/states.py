"""Provisioning states of resources and statuses of long-running operations, with allowed transitions.

``check_transition`` is the one gate every state change passes (see ``tether.store.resources``):
an illegal move is a bug or a race, reported as ``Conflict`` rather than silently applied.
"""

from __future__ import annotations

from enum import StrEnum

from tether.errors import Conflict


class ProvisioningState(StrEnum):
    CREATING = "Creating"
    UPDATING = "Updating"
    DELETING = "Deleting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


class OperationStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


class OperationKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


_TERMINAL = frozenset({ProvisioningState.SUCCEEDED, ProvisioningState.FAILED, ProvisioningState.CANCELED})
_BUSY = frozenset({ProvisioningState.CREATING, ProvisioningState.UPDATING, ProvisioningState.DELETING})

# From each state, the states a resource may move to. A terminal resource may be updated (re-PUT) or
# deleted; a busy one may only finish, or be deleted (delete wins over an unfinished create/update).
ALLOWED_TRANSITIONS: dict[ProvisioningState, frozenset[ProvisioningState]] = {
    ProvisioningState.CREATING: _TERMINAL | {ProvisioningState.DELETING},
    ProvisioningState.UPDATING: _TERMINAL | {ProvisioningState.DELETING},
    ProvisioningState.DELETING: frozenset({ProvisioningState.FAILED}),
    ProvisioningState.SUCCEEDED: frozenset({ProvisioningState.UPDATING, ProvisioningState.DELETING}),
    ProvisioningState.FAILED: frozenset(
        {ProvisioningState.CREATING, ProvisioningState.UPDATING, ProvisioningState.DELETING}
    ),
    ProvisioningState.CANCELED: frozenset({ProvisioningState.UPDATING, ProvisioningState.DELETING}),
}


def check_transition(current: ProvisioningState, new: ProvisioningState, *, resource: str) -> None:
    """Raise ``Conflict`` unless ``current`` → ``new`` is allowed (staying put is always allowed)."""
    if current != new and new not in ALLOWED_TRANSITIONS[current]:
        raise Conflict(
            f"{resource} is {current.value} and cannot become {new.value}; wait for the running "
            "operation to finish and try again.",
            code="ConflictingOperation" if current in _BUSY else "InvalidStateTransition",
        )
