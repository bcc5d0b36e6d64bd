"""``tether role definition list`` and the role look-up the other commands share (``resolve_role``)."""

from __future__ import annotations

import difflib
from typing import Any

import click

from tether.cli.context import output_options, print_result, with_client
from tether.cli.roles.output import flat_definition
from tether.client import ClientError, TetherClient, ids


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


@click.group("definition")
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
