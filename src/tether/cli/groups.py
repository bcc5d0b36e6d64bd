"""``tether group create|show|list|delete``: resource groups, as ``az group``."""

from __future__ import annotations

import click

from tether.cli.context import confirm_or_abort, output_options, print_result, wait_with_progress, with_client
from tether.client import TetherClient, ids


@click.group("group")
def group() -> None:
    """Manage resource groups."""


@group.command("create")
@click.option("-n", "--name", "--resource-group", "-g", "name", required=True, help="Name of the resource group.")
@click.option("-l", "--location", required=True, help="Location, e.g. local or westeurope.")
@click.option("--tags", multiple=True, metavar="KEY=VALUE", help="Tags, space-separated KEY=VALUE (repeatable).")
@output_options
@with_client
def create(
    name: str, location: str, tags: tuple[str, ...], output: str, query: str | None, client: TetherClient
) -> None:
    """Create a resource group, or update its tags if it exists."""
    body, _ = client.put(ids.resource_group(client.profile, name), {"location": location, "tags": parse_tags(tags)})
    print_result(body, output=output, query=query)


@group.command("show")
@click.option("-n", "--name", "--resource-group", "-g", "name", required=True, help="Name of the resource group.")
@output_options
@with_client
def show(name: str, output: str, query: str | None, client: TetherClient) -> None:
    """Show a resource group."""
    print_result(client.get(ids.resource_group(client.profile, name)), output=output, query=query)


@group.command("list")
@output_options
@with_client
def list_(output: str, query: str | None, client: TetherClient) -> None:
    """List the resource groups of the subscription."""
    print_result(list(client.list(ids.subscription(client.profile) + "/resourceGroups")), output=output, query=query)


@group.command("delete")
@click.option("-n", "--name", "--resource-group", "-g", "name", required=True, help="Name of the resource group.")
@click.option("-y", "--yes", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--no-wait", is_flag=True, help="Return at once; the delete goes on in the server.")
@with_client
def delete(name: str, yes: bool, no_wait: bool, client: TetherClient) -> None:
    """Delete a resource group and every resource in it."""
    confirm_or_abort(yes, f"Resource group '{name}' and everything in it will be deleted.")
    operation = client.delete(ids.resource_group(client.profile, name))
    if operation and not no_wait:
        wait_with_progress(client, operation, message=f"Deleting resource group {name}")


def parse_tags(tags: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for tag in tags:
        for item in tag.split():
            key, sep, value = item.partition("=")
            if not key:
                raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint="--tags")
            parsed[key] = value if sep else ""
    return parsed
