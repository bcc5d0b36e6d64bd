"""The requests behind ``tether role assignment``: create one, search them, and the principal look-ups.

The search asks the server for what it can filter (``$filter``) and narrows the result again here, as az
does.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote, urlencode

import click

from tether.cli.roles.output import flat_assignment
from tether.client import TetherClient, ids
from tether.client.principals import get_by_object_id, resolve_assignee


def create_assignment(
    client: TetherClient,
    *,
    scope: str,
    principal_id: str,
    role_definition_id: str,
    description: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """PUT a role assignment (a new GUID unless ``name``); returns it flattened."""
    if name and not _is_guid(name):
        raise click.BadParameter(f"'{name}' is not a GUID", param_hint="--name")
    properties: dict[str, Any] = {
        "roleDefinitionId": role_definition_id,
        "principalId": principal_id,
        "principalType": "ServicePrincipal",
    }
    if description:
        properties["description"] = description
    body, _ = client.put(ids.role_assignment(scope, name or str(uuid.uuid4())), {"properties": properties})
    return flat_assignment(body)


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def search_assignments(
    client: TetherClient,
    *,
    scope: str | None,
    principal_id: str | None,
    role_guid: str | None,
    include_inherited: bool,
) -> list[dict[str, Any]]:
    """az's search: at ``scope`` only (or also above it with ``include_inherited``); everywhere if no scope."""
    filters = []
    if scope:
        filters.append("atScope()")
    if principal_id:
        filters.append(f"principalId eq '{principal_id}'")
    path = ids.role_assignments(scope or ids.subscription(client.profile))
    if filters:  # the server reads each clause; the client follows nextLink with the query kept
        path += "?" + urlencode({"$filter": " and ".join(filters)}, quote_via=quote)
    found = [flat_assignment(a) for a in client.list(path)]
    if scope:
        found = [
            a
            for a in found
            if str(a.get("scope") or "").rstrip("/").lower() == scope.rstrip("/").lower()
            or (include_inherited and _covers(str(a.get("scope") or ""), scope))
        ]
    if principal_id:
        found = [a for a in found if str(a.get("principalId") or "").lower() == principal_id.lower()]
    if role_guid:
        found = [a for a in found if _role_guid(str(a.get("roleDefinitionId") or "")) == role_guid]
    return found


def _role_guid(definition_id: str) -> str:
    return definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _covers(assignment_scope: str, scope: str) -> bool:
    """Whether an assignment at ``assignment_scope`` applies at ``scope`` (same or parent scope)."""
    outer, inner = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return inner == outer or inner.startswith(outer + "/") or outer == ""


def fill_principal_names(client: TetherClient, assignments: list[dict[str, Any]]) -> None:
    """Set each assignment's ``principalName`` (empty if the directory does not know the principal)."""
    names: dict[str, str] = {}
    for assignment in assignments:
        principal_id = str(assignment.get("principalId") or "")
        if principal_id and principal_id not in names:
            found = get_by_object_id(client, principal_id)
            names[principal_id] = str(found.get("displayName") or "") if found else ""
        assignment["principalName"] = names.get(principal_id, "")


def assignee_id(client: TetherClient, assignee: str | None, assignee_object_id: str | None) -> str | None:
    """The object id of ``--assignee`` (looked up) or ``--assignee-object-id`` (as given); None if neither."""
    if assignee and assignee_object_id:
        raise click.UsageError("Give --assignee or --assignee-object-id, not both.")
    if assignee_object_id:
        return assignee_object_id.strip().lower()
    if assignee:
        return str(resolve_assignee(client, assignee)["id"])
    return None
