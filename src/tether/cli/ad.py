"""``tether ad sp ...``: service principals in Tether's directory (a Microsoft Graph subset), as ``az ad sp``.

Managing service principals (create, delete, secrets) needs a principal allowed to assign roles on a
subscription of the tenant (Owner); listing and showing them is open to every principal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from tether.cli.context import output_options, print_result, with_client
from tether.cli.roles.assignment_requests import create_assignment
from tether.cli.roles.definitions import resolve_role
from tether.cli.roles.options import split_values
from tether.client import ClientError, TetherClient, ids
from tether.client.principals import (
    SERVICE_PRINCIPALS,
    describe,
    find_by_display_name,
    find_service_principal,
    list_principals,
)

_CREDENTIALS_WARNING = (
    "The output includes credentials that you must protect. Be sure that you do not include these credentials "
    "in your code or check the credentials into your source control."
)
_ID_HELP = "The service principal's object id or app (client) id."


@click.group("ad")
def ad() -> None:
    """Manage Tether's directory: service principals (as az ad)."""


@ad.group("sp")
def sp() -> None:
    """Manage service principals: identities for automation, logging in with an app id and a secret."""


@sp.command("create-for-rbac")
@click.option(
    "-n",
    "--name",
    "display_name",
    help="Display name of the service principal (default: tether-cli-<timestamp>). If one with this name "
    "exists, it gets a new secret instead.",
)
@click.option("--role", "role_text", help="Role to assign at --scopes (e.g. Contributor); none by default.")
@click.option(
    "--scopes",
    multiple=True,
    metavar="SCOPE",
    help="Scopes to assign --role at, e.g. /subscriptions/<sub>/resourceGroups/<group> (space-separated, "
    "or repeat the option).",
)
@output_options
@with_client
def create_for_rbac(
    display_name: str | None,
    role_text: str | None,
    scopes: tuple[str, ...],
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Create a service principal with a secret, and optionally assign it a role at some scopes.

    Prints appId, password (shown once) and tenant. Log in with them:

    \b
      tether login --server URL --service-principal -u <appId> -p <password> \\
        --tenant <tenant> --ca-file CA
    """
    scope_list = split_values(scopes)
    if bool(role_text) != bool(scope_list):
        raise click.UsageError("To create role assignments, specify both --role and --scopes.")
    name = display_name or dt.datetime.now().strftime("tether-cli-%Y-%m-%d-%H-%M-%S")
    role_definition = resolve_role(client, role_text) if role_text else None  # fail before creating anything
    principal = _existing_or_new(client, name)
    secret = client.post(f"{SERVICE_PRINCIPALS}/{principal['id']}/addPassword", {})
    if role_definition is not None:
        for scope in scope_list:
            target = ids.scope(scope)
            click.echo(f"Creating '{role_definition['roleName']}' role assignment under scope '{target}'", err=True)
            try:
                create_assignment(
                    client,
                    scope=target,
                    principal_id=str(principal["id"]),
                    role_definition_id=str(role_definition["id"]),
                )
            except ClientError as e:
                if e.code == "RoleAssignmentExists":
                    click.echo("  Role assignment already exists.", err=True)
                    continue
                raise ClientError(
                    f"Service principal '{name}' (appId {principal['appId']}) exists, but assigning "
                    f"'{role_definition['roleName']}' at '{target}' failed: {e.message} Fix it and run the same "
                    "command again: it reuses the principal and gives it a new secret.",
                    code=e.code,
                    status=e.status,
                    details=e.details,
                ) from e
    click.echo(_CREDENTIALS_WARNING, err=True)
    result = {
        "appId": principal["appId"],
        "displayName": principal["displayName"],
        "password": secret["secretText"],
        "tenant": client.profile.tenant_id,
    }
    print_result(result, output=output, query=query)


def _existing_or_new(client: TetherClient, name: str) -> dict[str, Any]:
    matches = find_by_display_name(client, name)
    apps = [m for m in matches if m.get("servicePrincipalType") == "Application"]
    if len(apps) > 1:
        raise ClientError(
            f"{len(apps)} service principals are named '{name}'; choose another --name, or reset the secret of "
            "one with: tether ad sp credential reset --id <object id>",
            code="MultiplePrincipalsFound",
            details=[{"message": describe(m)} for m in apps],
        )
    if apps:
        click.echo(f"Found an existing service principal {describe(apps[0])}; adding a new secret to it.", err=True)
        return apps[0]
    created: dict[str, Any] = client.post(SERVICE_PRINCIPALS, {"displayName": name})
    return created


@sp.command("list")
@click.option("--display-name", help="Only principals whose display name starts with this (any case).")
@click.option(
    "--filter",
    "filter_text",
    help="OData filter: displayName eq 'x', appId eq 'x', id eq 'x' or startswith(displayName,'x').",
)
@click.option("--all", "show_all", is_flag=True, help="List every principal (the default without a filter, too).")
@output_options
@with_client
def sp_list(
    display_name: str | None,
    filter_text: str | None,
    show_all: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """List service principals and managed identities of the tenant."""
    if display_name and filter_text:
        raise click.UsageError("Give --display-name or --filter, not both (combine them in one --filter).")
    found = (
        find_by_display_name(client, display_name, prefix=True)
        if display_name
        else list_principals(client, filter_text)
    )
    print_result(found, output=output, query=query)


@sp.command("show")
@click.option("--id", "id_text", required=True, help=_ID_HELP)
@output_options
@with_client
def sp_show(id_text: str, output: str, query: str | None, client: TetherClient) -> None:
    """Show a service principal or managed identity."""
    print_result(find_service_principal(client, id_text), output=output, query=query)


@sp.command("delete")
@click.option("--id", "id_text", required=True, help=_ID_HELP)
@with_client
def sp_delete(id_text: str, client: TetherClient) -> None:
    """Delete a service principal with its secrets and role assignments.

    Managed identities are deleted with their resource (tether identity delete).
    """
    principal = find_service_principal(client, id_text)
    client.request("DELETE", f"{SERVICE_PRINCIPALS}/{principal['id']}")


@sp.group("credential")
def credential() -> None:
    """Manage a service principal's secrets."""


@credential.command("reset")
@click.option("--id", "id_text", required=True, help=_ID_HELP)
@click.option(
    "--append", is_flag=True, help="Keep the existing secrets (Tether always does: they expire on their own)."
)
@output_options
@with_client
def credential_reset(id_text: str, append: bool, output: str, query: str | None, client: TetherClient) -> None:
    """Create a new secret for a service principal and print it (shown once).

    Earlier secrets stay valid until they expire, a year after their creation (az's --append behavior;
    Tether cannot revoke a single secret: delete the service principal to revoke them all).
    """
    principal = find_service_principal(client, id_text)
    secret = client.post(f"{SERVICE_PRINCIPALS}/{principal['id']}/addPassword", {})
    click.echo(_CREDENTIALS_WARNING, err=True)
    result = {"appId": principal["appId"], "password": secret["secretText"], "tenant": client.profile.tenant_id}
    print_result(result, output=output, query=query)
