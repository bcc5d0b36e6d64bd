"""Finding principals in the directory (the server's Microsoft Graph subset, ``/v1.0/servicePrincipals``).

Service principals and managed identities alike: role assignment takes an object id, an app (client)
id or a display name (``ws1/computes/k8s-compute`` for a compute target's identity) and turns it into
the principal's object id, as ``az role assignment create --assignee`` does.
"""

from __future__ import annotations

import uuid
from typing import Any

from tether.client.core import TetherClient
from tether.client.errors import ClientError

SERVICE_PRINCIPALS = "/v1.0/servicePrincipals"

_HOW_TO_FIND = (
    "Find service principals with: tether ad sp list --display-name <prefix>; a user-assigned identity's "
    "principal with: tether identity show -g <group> -n <name> --query principalId."
)


def is_guid(text: str) -> bool:
    try:
        uuid.UUID(text.strip())
    except ValueError:
        return False
    return True


def odata_string(value: str) -> str:
    """A string literal for ``$filter`` (OData doubles single quotes)."""
    return "'" + value.replace("'", "''") + "'"


def list_principals(client: TetherClient, filter_text: str | None = None) -> list[dict[str, Any]]:
    """Principals matching an OData ``$filter`` (``displayName eq 'x'``, ``startswith(displayName,'x')``, ...)."""
    params = {"$filter": filter_text} if filter_text else None
    body = client.request("GET", SERVICE_PRINCIPALS, params=params).json()
    return list(body.get("value") or [])


def find_by_display_name(client: TetherClient, name: str, *, prefix: bool = False) -> list[dict[str, Any]]:
    """Principals whose display name is ``name`` (or starts with it), ignoring case.

    A name with a quote is matched here rather than by the server, whose ``$filter`` takes no quoted quote.
    """
    if "'" in name:
        key = name.lower()
        names = [(str(p.get("displayName") or "").lower(), p) for p in list_principals(client)]
        return [p for n, p in names if (n.startswith(key) if prefix else n == key)]
    if prefix:
        return list_principals(client, f"startswith(displayName,{odata_string(name)})")
    return list_principals(client, f"displayName eq {odata_string(name)}")


def get_by_object_id(client: TetherClient, object_id: str) -> dict[str, Any] | None:
    """The principal with this object id, or None."""
    try:
        found: dict[str, Any] = client.request("GET", f"{SERVICE_PRINCIPALS}/{object_id.strip().lower()}").json()
    except ClientError as e:
        if e.status == 404:
            return None
        raise
    return found


def find_service_principal(client: TetherClient, id_text: str) -> dict[str, Any]:
    """The principal whose object id or app id is ``id_text`` (``az ad sp show --id``)."""
    text = id_text.strip()
    if is_guid(text):
        found = get_by_object_id(client, text)
        if found is not None:
            return found
        matches = list_principals(client, f"appId eq {odata_string(text.lower())}")
        if matches:
            return matches[0]
    raise ClientError(
        f"No service principal has the object id or app id '{text}'. {_HOW_TO_FIND}",
        code="Request_ResourceNotFound",
        status=404,
    )


def describe(principal: dict[str, Any]) -> str:
    return (
        f"'{principal.get('displayName')}': object id {principal.get('id')}, app id {principal.get('appId')}, "
        f"type {principal.get('servicePrincipalType')}"
    )


def resolve_assignee(client: TetherClient, text: str) -> dict[str, Any]:
    """The one principal that ``text`` names: an object id, else an app id (for a GUID), else a display name.

    Raises ``ClientError`` (``PrincipalNotFound``) when none matches, and (``MultiplePrincipalsFound``)
    listing the candidates when a display name is shared, so the caller can pass an object id instead.
    """
    value = text.strip()
    if not value:
        raise ClientError("The assignee is empty: give an object id, an app id or a display name.", code="BadArgument")
    if is_guid(value):
        found = get_by_object_id(client, value)
        if found is not None:
            return found
        matches = list_principals(client, f"appId eq {odata_string(value.lower())}")
    else:
        matches = find_by_display_name(client, value)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        kind = "object id or app id" if is_guid(value) else "display name"
        raise ClientError(
            f"No service principal or managed identity has the {kind} '{value}'. {_HOW_TO_FIND}",
            code="PrincipalNotFound",
        )
    raise ClientError(
        f"{len(matches)} principals have the display name '{value}'. Pass the object id of the one you mean "
        "(--assignee <object id>, or --assignee-object-id):",
        code="MultiplePrincipalsFound",
        details=[{"message": describe(m)} for m in matches],
    )
