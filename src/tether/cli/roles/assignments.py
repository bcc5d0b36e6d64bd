"""``tether role assignment create|list|delete|check``: grant, list, revoke and check access, as ``az role``.

``check`` is Tether's own: it says whether a principal may perform an action on a scope, which assignment
grants it, and how to grant it if not.
"""

from __future__ import annotations

from typing import Any

import click

from tether.cli.context import confirm_or_abort, output_options, print_result, with_client
from tether.cli.roles.assignment_requests import (
    assignee_id,
    create_assignment,
    fill_principal_names,
    search_assignments,
)
from tether.cli.roles.definitions import resolve_role
from tether.cli.roles.options import ASSIGNEE_HELP, PRINCIPAL_TYPES, ROLE_HELP, SCOPE_HELP, build_scope, split_values
from tether.cli.roles.output import print_assignments, verdict
from tether.client import ClientError, TetherClient, ids


@click.group("assignment")
def assignment() -> None:
    """Manage role assignments: grant, list, revoke and check access."""


@assignment.command("create")
@click.option("--assignee", help=ASSIGNEE_HELP)
@click.option(
    "--assignee-object-id",
    help="The principal's object id; no directory lookup is made (use it when a display name is ambiguous).",
)
@click.option(
    "--assignee-principal-type",
    type=click.Choice(PRINCIPAL_TYPES),
    help="Type of the principal of --assignee-object-id; Tether's principals are all ServicePrincipal.",
)
@click.option("--role", "role_text", required=True, help=ROLE_HELP)
@click.option("--scope", help=SCOPE_HELP + " Required unless -g is given.")
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
    principal_id = assignee_id(client, assignee, assignee_object_id)
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


@assignment.command("list")
@click.option("--assignee", help="Only this principal's assignments. " + ASSIGNEE_HELP)
@click.option("--assignee-object-id", help="Only assignments of the principal with this object id.")
@click.option("--role", "role_text", help="Only assignments of this role. " + ROLE_HELP)
@click.option("--scope", help="Assignments at this scope (default: the subscription). " + SCOPE_HELP)
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
    principal_id = assignee_id(client, assignee, assignee_object_id)
    role_guid = str(resolve_role(client, role_text)["name"]).lower() if role_text else None
    found = search_assignments(
        client, scope=target, principal_id=principal_id, role_guid=role_guid, include_inherited=include_inherited
    )
    fill_principal_names(client, found)
    print_assignments(found, output, query)


@assignment.command("delete")
@click.option(
    "--ids",
    "assignment_ids",
    multiple=True,
    metavar="ID",
    help="Role assignment ids to delete (space-separated, or repeat the option); no other filter with it.",
)
@click.option("--assignee", help="Delete this principal's assignments. " + ASSIGNEE_HELP)
@click.option("--assignee-object-id", help="Delete assignments of the principal with this object id.")
@click.option("--role", "role_text", help="Delete assignments of this role. " + ROLE_HELP)
@click.option("--scope", help="Delete assignments at this scope (default: the subscription). " + SCOPE_HELP)
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
    principal_id = assignee_id(client, assignee, assignee_object_id)
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
@click.option("--assignee", help=ASSIGNEE_HELP)
@click.option("--assignee-object-id", help="The principal's object id; no directory lookup is made.")
@click.option(
    "--action",
    required=True,
    help="The action, e.g. Microsoft.MachineLearningServices/workspaces/write "
    "or Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read (with --data-action).",
)
@click.option("--scope", help="Where the action would be performed (a resource or scope id). " + SCOPE_HELP)
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
    principal_id = assignee_id(client, assignee, assignee_object_id)
    target = build_scope(client, resource_group, scope)
    body: dict[str, Any] = {"principalId": principal_id, "action": action}
    if data_action:
        body["isDataAction"] = True
    answer = client.post(ids.check_access(target), body)
    if output == "table" and not query:
        click.echo(verdict(answer))
    else:
        print_result(answer, output=output, query=query)
    if not answer.get("allowed") and answer.get("fix"):
        click.echo(f"To grant it, run:\n  {answer['fix']}", err=True)
