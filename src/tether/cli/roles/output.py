"""How the role commands print: definitions and assignments flattened as az prints them.

``roleDefinitionName``, ``principalId``, ``scope`` and the like stand at the top level, not under
``properties``; ``-o table`` shows assignments as who, what and where.
"""

from __future__ import annotations

from typing import Any

from tether.cli.context import print_result
from tether.cli.roles.options import resource_group_of
from tether.client.views import read_view
from tether.protocol.answers import ResourceAnswer


def flat_definition(definition: dict[str, Any]) -> dict[str, Any]:
    props = read_view(ResourceAnswer, definition, what="role definition").properties
    return {
        "id": definition.get("id"),
        "name": definition.get("name"),
        "type": definition.get("type"),
        "roleName": props.get("roleName"),
        "roleType": props.get("type"),
        "description": props.get("description"),
        "assignableScopes": props.get("assignableScopes"),
        "permissions": props.get("permissions"),
    }


def flat_assignment(assignment: dict[str, Any]) -> dict[str, Any]:
    props = read_view(ResourceAnswer, assignment, what="role assignment").properties
    flat: dict[str, Any] = {"id": assignment.get("id"), "name": assignment.get("name"), **props}
    flat["type"] = assignment.get("type")
    group = resource_group_of(str(props.get("scope") or ""))
    if group:
        flat["resourceGroup"] = group
    return flat


def print_assignments(assignments: list[dict[str, Any]], output: str, query: str | None) -> None:
    """``assignments`` as ``-o`` asks; a plain ``-o table`` shows who, what and where only."""
    if output == "table" and not query:  # az's table: who, what, where
        rows = [
            {"principal": a.get("principalName"), "role": a.get("roleDefinitionName"), "scope": a.get("scope")}
            for a in assignments
        ]
        print_result(rows, output=output, query=None)
        return
    print_result(assignments, output=output, query=query)


def verdict(answer: dict[str, Any]) -> str:
    """``tether role assignment check``'s answer as one sentence (its ``-o table``)."""
    who = f"'{answer.get('principalName')}' ({answer.get('principalId')})"
    what = f"'{answer.get('action')}' on '{answer.get('scope')}'"
    if answer.get("allowed"):
        grant = answer.get("grantedBy") or {}
        return (
            f"Allowed: {who} may perform {what}, granted by role '{grant.get('roleDefinitionName')}' "
            f"assigned at '{grant.get('scope')}'."
        )
    roles = ", ".join(answer.get("rolesThatWouldGrant") or []) or "none"
    return f"Denied: {who} may not perform {what}. Roles that would grant it: {roles}."
