"""Registry token scopes (``repository:<name>:pull,push``) and the ARM actions that grant each registry action.

The Distribution token spec's scope grammar: ``<type>:<name>:<actions>``, where the name may itself
contain ``:`` only as a port in a host (never here: names are repository paths), so the actions are
what follows the *last* colon. Unknown actions are never granted; ``*`` on ``registry:catalog`` is the
catalog listing, granted with pull (as ACR does for ``az acr repository list``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tether.domain.roles import ACR_DELETE, ACR_PULL, ACR_PUSH, RoleDefinition

PULL_ACTION = "Microsoft.ContainerRegistry/registries/pull/read"
PUSH_ACTION = "Microsoft.ContainerRegistry/registries/push/write"
DELETE_ACTION = "Microsoft.ContainerRegistry/registries/artifacts/delete"

# Registry action → (ARM action that grants it, the narrowest built-in role that has it).
GRANTS: dict[str, tuple[str, RoleDefinition]] = {
    "pull": (PULL_ACTION, ACR_PULL),
    "push": (PUSH_ACTION, ACR_PUSH),
    "delete": (DELETE_ACTION, ACR_DELETE),
}
CATALOG = ("registry", "catalog")

# Repository path components as the OCI distribution spec allows them.
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


@dataclass(frozen=True)
class ScopeRequest:
    type: str
    name: str
    actions: tuple[str, ...]


def parse_scopes(texts: list[str]) -> list[ScopeRequest]:
    """The scopes of a token request (each text may hold several, space-separated); malformed ones are dropped,
    as a token server grants nothing it does not understand."""
    found: list[ScopeRequest] = []
    for text in texts:
        for item in text.split():
            head, sep, actions = item.rpartition(":")
            kind, sep2, name = head.partition(":")
            if not sep or not sep2 or not name:
                continue
            if kind == "repository" and not _REPOSITORY.fullmatch(name):
                continue
            if kind not in ("repository", "registry"):
                continue
            found.append(ScopeRequest(kind, name, tuple(a for a in actions.split(",") if a)))
    return found


def arm_action_for(scope: ScopeRequest, action: str) -> str | None:
    """The ARM action that must be granted for ``action`` on ``scope``, or None if it is never granted."""
    if (scope.type, scope.name) == CATALOG:
        return PULL_ACTION if action == "*" else None
    if scope.type != "repository" or action not in GRANTS:
        return None
    return GRANTS[action][0]
