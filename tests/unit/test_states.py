"""Provisioning-state transitions: every move is checked against the declared table; illegal ones conflict."""

from __future__ import annotations

import itertools

import pytest

from tether.domain.states import (
    ALLOWED_TRANSITIONS,
    OperationKind,
    OperationStatus,
    ProvisioningState,
    check_transition,
)
from tether.errors import Conflict

S = ProvisioningState

# The specification, written out independently of the implementation's table.
EXPECTED_MOVES: dict[ProvisioningState, set[ProvisioningState]] = {
    S.CREATING: {S.SUCCEEDED, S.FAILED, S.CANCELED, S.DELETING},
    S.UPDATING: {S.SUCCEEDED, S.FAILED, S.CANCELED, S.DELETING},
    S.DELETING: {S.FAILED},
    S.SUCCEEDED: {S.UPDATING, S.DELETING},
    S.FAILED: {S.CREATING, S.UPDATING, S.DELETING},
    S.CANCELED: {S.UPDATING, S.DELETING},
}
BUSY = {S.CREATING, S.UPDATING, S.DELETING}

PAIRS = list(itertools.product(ProvisioningState, repeat=2))
ALLOWED = [pytest.param(a, b, id=f"{a.value}->{b.value}") for a, b in PAIRS if a == b or b in EXPECTED_MOVES[a]]
REFUSED = [pytest.param(a, b, id=f"{a.value}->{b.value}") for a, b in PAIRS if a != b and b not in EXPECTED_MOVES[a]]


def test_the_declared_table_is_the_specified_one() -> None:
    assert {k: set(v) for k, v in ALLOWED_TRANSITIONS.items()} == EXPECTED_MOVES


@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_an_allowed_move_or_staying_put_passes(current: ProvisioningState, new: ProvisioningState) -> None:
    check_transition(current, new, resource="Workspace 'ws1'")


@pytest.mark.parametrize(("current", "new"), REFUSED)
def test_an_illegal_move_is_a_conflict_naming_the_resource_and_both_states(
    current: ProvisioningState, new: ProvisioningState
) -> None:
    with pytest.raises(Conflict) as caught:
        check_transition(current, new, resource="Workspace 'ws1'")

    expected_code = "ConflictingOperation" if current in BUSY else "InvalidStateTransition"
    assert caught.value.code == expected_code
    assert caught.value.message.startswith(f"Workspace 'ws1' is {current.value} and cannot become {new.value}")


def test_the_matrix_covers_every_pair() -> None:
    assert len(ALLOWED) + len(REFUSED) == len(ProvisioningState) ** 2 == 36
    assert len(ALLOWED) == 6 + sum(len(v) for v in EXPECTED_MOVES.values())


@pytest.mark.parametrize("state", list(ProvisioningState), ids=lambda s: s.value)
def test_only_succeeded_failed_and_canceled_are_terminal(state: ProvisioningState) -> None:
    assert state.is_terminal == (state in {S.SUCCEEDED, S.FAILED, S.CANCELED})


def test_states_and_statuses_are_spelt_as_arm_spells_them() -> None:
    assert [s.value for s in ProvisioningState] == [
        "Creating",
        "Updating",
        "Deleting",
        "Succeeded",
        "Failed",
        "Canceled",
    ]
    assert [s.value for s in OperationStatus] == ["InProgress", "Succeeded", "Failed", "Canceled"]
    assert [k.value for k in OperationKind] == ["create", "update", "delete"]
