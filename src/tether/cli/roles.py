"""``tether role definition|assignment ...``: role-based access control, as ``az role``.

Results are flattened as az prints them (``roleDefinitionName``, ``principalId``, ``scope`` at the top
level, not under ``properties``). ``tether role assignment check`` is Tether's own: it says whether a
principal may perform an action on a scope, which assignment grants it, and how to grant it if not.
"""

from __future__ import annotations

import difflib
import re
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import click

from tether.cli.context import confirm_or_abort, output_options, print_result, with_client
from tether.client import ClientError, TetherClient, ids
from tether.client.principals import get_by_object_id, resolve_assignee

_RESOURCE_GROUP = re.compile(r"/resourceGroups/([^/]+)", re.IGNORECASE)
_PRINCIPAL_TYPES = ("ServicePrincipal",)

_SCOPE_HELP = (
    "Scope the assignment applies to, a resource id such as /subscriptions/<sub>/resourceGroups/<group> "
    "or a resource's id (leading '/' optional)."
)
_ASSIGNEE_HELP = (
    "Who: a service principal's or managed identity's object id, app (client) id, or display name "
    "(e.g. ws1/computes/k8s-compute for a compute target's identity)."
)
_ROLE_HELP = "Role name (e.g. Reader, Contributor, AcrPull), role GUID, or role definition id."


def split_values(values: tuple[str, ...]) -> list[str]:
    """Values of a repeatable option that also takes space-separated values in one argument (as az's lists)."""
    return [v for item in values for v in item.split()]


def resource_group_of(resource_id: str) -> str | None:
    match = _RESOURCE_GROUP.search(resource_id)
    return match.group(1) if match else None


def build_scope(client: TetherClient, resource_group: str | None, scope: str | None) -> str:
    """az's rule: --scope, else the resource group's id, else the subscription; both is a usage error."""
    if scope and resource_group:
        raise click.UsageError(
            f"Resource group '{resource_group}' is redundant because --scope is supplied; give one of them."
        )
    if scope:
        return ids.scope(scope)
    if resource_group:
        return ids.resource_group(client.profile, resource_group)
    return ids.subscription(client.profile)


# --- role definitions ---------------------------------------------------------------------------------
def flat_definition(definition: dict[str, Any]) -> dict[str, Any]:
    props = definition.get("properties") or {}
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


def resolve_role(client: TetherClient, text: str) -> dict[str, Any]:
    """The role definition (flattened) named by ``text``: a role name (any case), a GUID or a definition id."""
    wanted = text.strip()
    key = wanted.rstrip("/").rsplit("/", 1)[-1].lower()
    definitions = [flat_definition(d) for d in client.list(ids.role_definitions(client.profile))]
    for definition in definitions:
        name = str(definition["roleName"] or "")
        if str(definition["name"]).lower() == key or name.lower() == wanted.lower():
            return definition
    names = [str(d["roleName"]) for d in definitions]
    by_lower = {n.lower(): n for n in names}
    close = [by_lower[n] for n in difflib.get_close_matches(wanted.lower(), list(by_lower), n=3, cutoff=0.5)]
    hint = f"Did you mean: {', '.join(close)}? " if close else f"The roles are: {', '.join(names)}. "
    raise ClientError(
        f"Role '{wanted}' doesn't exist. {hint}See them with: tether role definition list -o table",
        code="RoleDefinitionDoesNotExist",
    )


# --- role assignments ---------------------------------------------------------------------------------
def flat_assignment(assignment: dict[str, Any]) -> dict[str, Any]:
    props = assignment.get("properties") or {}
    flat: dict[str, Any] = {"id": assignment.get("id"), "name": assignment.get("name"), **props}
    flat["type"] = assignment.get("type")
    group = resource_group_of(str(props.get("scope") or ""))
    if group:
        flat["resourceGroup"] = group
    return flat


def _role_guid(definition_id: str) -> str:
    return definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _covers(assignment_scope: str, scope: str) -> bool:
    """Whether an assignment at ``assignment_scope`` applies at ``scope`` (same or parent scope)."""
    outer, inner = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return inner == outer or inner.startswith(outer + "/") or outer == ""


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


def _fill_principal_names(client: TetherClient, assignments: list[dict[str, Any]]) -> None:
    names: dict[str, str] = {}
    for assignment in assignments:
        principal_id = str(assignment.get("principalId") or "")
        if principal_id and principal_id not in names:
            found = get_by_object_id(client, principal_id)
            names[principal_id] = str(found.get("displayName") or "") if found else ""
        assignment["principalName"] = names.get(principal_id, "")


def _assignee_id(client: TetherClient, assignee: str | None, assignee_object_id: str | None) -> str | None:
    if assignee and assignee_object_id:
        raise click.UsageError("Give --assignee or --assignee-object-id, not both.")
    if assignee_object_id:
        return assignee_object_id.strip().lower()
    if assignee:
        return str(resolve_assignee(client, assignee)["id"])
    return None


def _print_assignments(assignments: list[dict[str, Any]], output: str, query: str | None) -> None:
    if output == "table" and not query:  # az's table: who, what, where
        rows = [
            {"principal": a.get("principalName"), "role": a.get("roleDefinitionName"), "scope": a.get("scope")}
            for a in assignments
        ]
        print_result(rows, output=output, query=None)
        return
    print_result(assignments, output=output, query=query)


@click.group("role")
def role() -> None:
    """Manage role definitions and role assignments (who may do what, where), as az role."""


@role.group("definition")
def definition() -> None:
    """List the built-in role definitions (Tether has no custom roles)."""


@definition.command("list")
@click.option("-n", "--name", help="Only the role with this name (e.g. Contributor, any case) or GUID.")
@click.option("--custom-role-only", is_flag=True, help="Only custom roles; Tether has none, so the list is empty.")
@output_options
@with_client
def definition_list(
    name: str | None, custom_role_only: bool, output: str, query: str | None, client: TetherClient
) -> None:
    """List role definitions: their names, GUIDs, descriptions and permissions."""
    definitions = [flat_definition(d) for d in client.list(ids.role_definitions(client.profile))]
    if name:
        key = name.strip().lower()
        definitions = [d for d in definitions if str(d["roleName"]).lower() == key or str(d["name"]).lower() == key]
    if custom_role_only:
        definitions = [d for d in definitions if d["roleType"] == "CustomRole"]
    print_result(definitions, output=output, query=query)


@role.group("assignment")
def assignment() -> None:
    """Manage role assignments: grant, list, revoke and check access."""


@assignment.command("create")
@click.option("--assignee", help=_ASSIGNEE_HELP)
@click.option(
    "--assignee-object-id",
    help="The principal's object id; no directory lookup is made (use it when a display name is ambiguous).",
)
@click.option(
    "--assignee-principal-type",
    type=click.Choice(_PRINCIPAL_TYPES),
    help="Type of the principal of --assignee-object-id; Tether's principals are all ServicePrincipal.",
)
@click.option("--role", "role_text", required=True, help=_ROLE_HELP)
@click.option("--scope", help=_SCOPE_HELP + " Required unless -g is given.")
@click.option("-g", "--resource-group", "resource_group", help="Assign at this resource group (instead of --scope).")
@click.option("--description", help="Why the assignment exists.")
@click.option("--name", "assignment_name", help="The assignment's name, a GUID (default: a new one).")
@output_options
@with_client
def assignment_create(
    assignee: str | None,
    assignee_object_id: str | None,
    assignee_principal_type: str | None,
    role_text: str,
    scope: str | None,
    resource_group: str | None,
    description: str | None,
    assignment_name: str | None,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Grant a role to a principal at a scope.

    \b
    Example:
      tether role assignment create --assignee my-sp --role Reader \\
        --scope /subscriptions/<sub>/resourceGroups/rg1
    """
    if not scope and not resource_group:
        raise click.UsageError(
            "--scope is required (or -g): e.g. --scope /subscriptions/<sub>/resourceGroups/<group>; "
            "use --scope /subscriptions/<sub> to assign on the whole subscription."
        )
    if not assignee and not assignee_object_id:
        raise click.UsageError("Give --assignee (object id, app id or display name) or --assignee-object-id.")
    principal_id = _assignee_id(client, assignee, assignee_object_id)
    assert principal_id is not None
    target = build_scope(client, resource_group, scope)
    role_definition = resolve_role(client, role_text)
    created = create_assignment(
        client,
        scope=target,
        principal_id=principal_id,
        role_definition_id=str(role_definition["id"]),
        description=description,
        name=assignment_name,
    )
    print_result(created, output=output, query=query)


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


@assignment.command("list")
@click.option("--assignee", help="Only this principal's assignments. " + _ASSIGNEE_HELP)
@click.option("--assignee-object-id", help="Only assignments of the principal with this object id.")
@click.option("--role", "role_text", help="Only assignments of this role. " + _ROLE_HELP)
@click.option("--scope", help="Assignments at this scope (default: the subscription). " + _SCOPE_HELP)
@click.option("-g", "--resource-group", "resource_group", help="Assignments at this resource group.")
@click.option("--all", "show_all", is_flag=True, help="Every assignment in the subscription, at any scope.")
@click.option("--include-inherited", is_flag=True, help="Also the assignments at parent scopes, which apply here too.")
@output_options
@with_client
def assignment_list(
    assignee: str | None,
    assignee_object_id: str | None,
    role_text: str | None,
    scope: str | None,
    resource_group: str | None,
    show_all: bool,
    include_inherited: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """List role assignments.

    As az: without --scope or -g, those at the subscription itself; with --all, those at every scope of
    the subscription (resource groups and resources included).
    """
    if show_all and (scope or resource_group):
        raise click.UsageError("--scope and -g are not used with --all, which lists every scope.")
    target = None if show_all else build_scope(client, resource_group, scope)
    principal_id = _assignee_id(client, assignee, assignee_object_id)
    role_guid = str(resolve_role(client, role_text)["name"]).lower() if role_text else None
    found = search_assignments(
        client, scope=target, principal_id=principal_id, role_guid=role_guid, include_inherited=include_inherited
    )
    _fill_principal_names(client, found)
    _print_assignments(found, output, query)


@assignment.command("delete")
@click.option(
    "--ids",
    "assignment_ids",
    multiple=True,
    metavar="ID",
    help="Role assignment ids to delete (space-separated, or repeat the option); no other filter with it.",
)
@click.option("--assignee", help="Delete this principal's assignments. " + _ASSIGNEE_HELP)
@click.option("--assignee-object-id", help="Delete assignments of the principal with this object id.")
@click.option("--role", "role_text", help="Delete assignments of this role. " + _ROLE_HELP)
@click.option("--scope", help="Delete assignments at this scope (default: the subscription). " + _SCOPE_HELP)
@click.option("-g", "--resource-group", "resource_group", help="Delete assignments at this resource group.")
@click.option("--include-inherited", is_flag=True, help="Also delete matching assignments at parent scopes.")
@click.option("-y", "--yes", is_flag=True, help="Do not prompt when no filter is given (deleting them all).")
@with_client
def assignment_delete(
    assignment_ids: tuple[str, ...],
    assignee: str | None,
    assignee_object_id: str | None,
    role_text: str | None,
    scope: str | None,
    resource_group: str | None,
    include_inherited: bool,
    yes: bool,
    client: TetherClient,
) -> None:
    """Delete role assignments: by id, or those matching --assignee, --role and --scope (as az)."""
    wanted_ids = split_values(assignment_ids)
    if wanted_ids:
        if assignee or assignee_object_id or role_text or scope or resource_group or include_inherited:
            raise click.UsageError("With --ids, give no other filter (--assignee, --role, --scope, -g).")
        for assignment_id in wanted_ids:
            client.delete(ids.scope(assignment_id))
        return
    if not any((assignee, assignee_object_id, role_text, scope, resource_group)):
        confirm_or_abort(yes, "This will delete all role assignments at the subscription scope.")
    target = build_scope(client, resource_group, scope)
    principal_id = _assignee_id(client, assignee, assignee_object_id)
    role_guid = str(resolve_role(client, role_text)["name"]).lower() if role_text else None
    found = search_assignments(
        client, scope=target, principal_id=principal_id, role_guid=role_guid, include_inherited=include_inherited
    )
    if not found:
        raise ClientError(
            f"No matched assignments were found to delete at scope '{target}'. See them with: "
            "tether role assignment list --all --assignee <who> -o table",
            code="RoleAssignmentNotFound",
        )
    for item in found:
        client.delete(str(item["id"]))


@assignment.command("check")
@click.option("--assignee", help=_ASSIGNEE_HELP)
@click.option("--assignee-object-id", help="The principal's object id; no directory lookup is made.")
@click.option(
    "--action",
    required=True,
    help="The action, e.g. Microsoft.MachineLearningServices/workspaces/write "
    "or Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read (with --data-action).",
)
@click.option("--scope", help="Where the action would be performed (a resource or scope id). " + _SCOPE_HELP)
@click.option("-g", "--resource-group", "resource_group", help="Check at this resource group (instead of --scope).")
@click.option("--data-action", is_flag=True, help="The action is a data action (e.g. reading a blob).")
@output_options
@with_client
def assignment_check(
    assignee: str | None,
    assignee_object_id: str | None,
    action: str,
    scope: str | None,
    resource_group: str | None,
    data_action: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Check whether a principal may perform an action at a scope, and why (Tether's own command).

    Prints the answer: allowed or not, the assignment that grants it, the roles that would, and the
    command that would grant the narrowest of them (also on stderr when denied). The exit code is 0
    either way; read "allowed" (e.g. --query allowed -o tsv).
    """
    if not scope and not resource_group:
        raise click.UsageError("--scope is required (or -g): the resource or scope id the action is performed on.")
    if not assignee and not assignee_object_id:
        raise click.UsageError("Give --assignee (object id, app id or display name) or --assignee-object-id.")
    principal_id = _assignee_id(client, assignee, assignee_object_id)
    target = build_scope(client, resource_group, scope)
    body: dict[str, Any] = {"principalId": principal_id, "action": action}
    if data_action:
        body["isDataAction"] = True
    answer = client.post(ids.check_access(target), body)
    if output == "table" and not query:
        click.echo(_verdict(answer))
    else:
        print_result(answer, output=output, query=query)
    if not answer.get("allowed") and answer.get("fix"):
        click.echo(f"To grant it, run:\n  {answer['fix']}", err=True)


def _verdict(answer: dict[str, Any]) -> str:
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
