"""``tether ml workspace create|show|list|delete``, as ``az ml workspace``."""

from __future__ import annotations

import click

from tether.cli.context import (
    confirm_or_abort,
    list_in_scope,
    output_options,
    print_result,
    put_and_wait,
    wait_with_progress,
    with_client,
)
from tether.cli.groups import parse_tags
from tether.client import TetherClient, ids

_GROUP = click.option(
    "-g", "--resource-group", "resource_group", required=True, help="Resource group of the workspace."
)
_NAME = click.option("-n", "--name", "name", required=True, help="Name of the workspace.")


@click.group("workspace")
def workspace() -> None:
    """Manage ML workspaces."""


@workspace.command("create")
@_NAME
@_GROUP
@click.option("-l", "--location", help="Location (default: the resource group's).")
@click.option("--display-name", help="Friendly name shown in Studio.")
@click.option("--description", help="Description of the workspace.")
@click.option("--tags", multiple=True, metavar="KEY=VALUE", help="Tags, space-separated KEY=VALUE.")
@click.option(
    "--primary-user-assigned-identity",
    "primary_identity",
    metavar="IDENTITY_ID",
    help="Resource id of a user-assigned identity to use as the workspace identity instead of a "
    "system-assigned one. An administrator must then grant its roles before computes are attached.",
)
@click.option(
    "--storage-account",
    metavar="ACCOUNT_ID",
    help="Resource id of an existing storage account to be the workspace's default storage (its "
    "workspaceblobstore datastore); default: a new account.",
)
@click.option("--no-wait", is_flag=True, help="Return at once; creation goes on in the server.")
@output_options
@with_client
def create(
    name: str,
    resource_group: str,
    location: str | None,
    display_name: str | None,
    description: str | None,
    tags: tuple[str, ...],
    primary_identity: str | None,
    storage_account: str | None,
    no_wait: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Create a workspace with a system-assigned identity (or the user-assigned one given)."""
    resource_id = ids.workspace(client.profile, resource_group, name)
    properties = {k: v for k, v in (("friendlyName", display_name), ("description", description)) if v}
    identity: dict[str, object] = {"type": "SystemAssigned"}
    if primary_identity:
        identity = {"type": "UserAssigned", "userAssignedIdentities": {primary_identity: {}}}
        properties["primaryUserAssignedIdentity"] = primary_identity
    if storage_account:
        properties["storageAccount"] = storage_account
    body: dict[str, object] = {"identity": identity, "tags": parse_tags(tags), "properties": properties}
    if location:
        body["location"] = location
    answer = put_and_wait(client, resource_id, body, no_wait=no_wait, message=f"Creating workspace {name}")
    if answer is not None:
        print_result(answer, output=output, query=query)


@workspace.command("show")
@_NAME
@_GROUP
@output_options
@with_client
def show(name: str, resource_group: str, output: str, query: str | None, client: TetherClient) -> None:
    """Show a workspace."""
    print_result(client.get(ids.workspace(client.profile, resource_group, name)), output=output, query=query)


@workspace.command("list")
@click.option("-g", "--resource-group", "resource_group", help="Only this resource group's workspaces.")
@output_options
@with_client
def list_(resource_group: str | None, output: str, query: str | None, client: TetherClient) -> None:
    """List workspaces of a resource group, or of the whole subscription."""
    workspaces = list_in_scope(client, resource_group, "Microsoft.MachineLearningServices/workspaces")
    print_result(workspaces, output=output, query=query)


@workspace.command("delete")
@_NAME
@_GROUP
@click.option("-y", "--yes", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--no-wait", is_flag=True, help="Return at once; the delete goes on in the server.")
@with_client
def delete(name: str, resource_group: str, yes: bool, no_wait: bool, client: TetherClient) -> None:
    """Delete a workspace and its compute targets (attached clusters are left untouched)."""
    confirm_or_abort(yes, f"Workspace '{name}' will be deleted.")
    operation = client.delete(ids.workspace(client.profile, resource_group, name))
    if operation and not no_wait:
        wait_with_progress(client, operation, message=f"Deleting workspace {name}")
