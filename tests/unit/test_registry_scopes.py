"""Registry token scopes: parsing, and which ARM action (and role) grants each registry action."""

from __future__ import annotations

from tether.domain.registry_scopes import (
    DELETE_ACTION,
    PULL_ACTION,
    PUSH_ACTION,
    ScopeRequest,
    arm_action_for,
    parse_scopes,
)
from tether.domain.roles import ACR_DELETE, ACR_PULL, ACR_PUSH, READER
from tether.registry.tokens import libtrust_key_id


def test_scopes_are_parsed_and_malformed_ones_dropped() -> None:
    found = parse_scopes(["repository:app/one:pull,push registry:catalog:*", "repository:UPPER:pull", "nonsense"])
    assert found == [
        ScopeRequest("repository", "app/one", ("pull", "push")),
        ScopeRequest("registry", "catalog", ("*",)),
    ]


def test_each_registry_action_needs_its_arm_action() -> None:
    repo = ScopeRequest("repository", "app", ("pull", "push", "delete", "*"))
    assert [arm_action_for(repo, a) for a in repo.actions] == [PULL_ACTION, PUSH_ACTION, DELETE_ACTION, None]
    assert arm_action_for(ScopeRequest("registry", "catalog", ("*",)), "*") == PULL_ACTION


def test_acr_roles_grant_what_azure_says() -> None:
    assert ACR_PULL.allows(PULL_ACTION)
    assert not ACR_PULL.allows(PUSH_ACTION)
    assert ACR_PUSH.allows(PULL_ACTION)
    assert ACR_PUSH.allows(PUSH_ACTION)
    assert not ACR_PUSH.allows(DELETE_ACTION)
    assert ACR_DELETE.allows(DELETE_ACTION)
    assert not ACR_DELETE.allows(PULL_ACTION)
    assert READER.allows(PULL_ACTION)
    assert not READER.allows(PUSH_ACTION)


def test_libtrust_key_id_shape() -> None:
    key_id = libtrust_key_id(b"any der bytes")
    groups = key_id.split(":")
    assert len(groups) == 12
    assert all(len(g) == 4 for g in groups)
