"""``tether storage account|container ...``: storage accounts and blob containers, as ``az storage``.

An account's blob endpoint (``primaryEndpoints.blob``) is Tether's, path-style:
``https://<host>:<blob port>/<account>/`` (docs/storage.md). ``keys list`` needs
``Microsoft.Storage/storageAccounts/listKeys/action``; containers are created through ARM
(``az storage container-rm`` style), so no key or data role is needed to create one.
"""

from __future__ import annotations

from typing import Any

import click

from tether.cli.context import confirm_or_abort, list_in_scope, output_options, print_result, with_client
from tether.cli.groups import parse_tags
from tether.client import TetherClient, ids

_GROUP = click.option("-g", "--resource-group", "resource_group", required=True, help="Resource group of the account.")
_NAME = click.option("-n", "--name", "name", required=True, help="Name of the storage account.")
_ACCOUNT = click.option("--account-name", "account", required=True, help="Name of the storage account.")


def account_id(client: TetherClient, group: str, name: str) -> str:
    return f"{ids.resource_group(client.profile, group)}/providers/Microsoft.Storage/storageAccounts/{name}"


@click.group("storage")
def storage() -> None:
    """Manage storage accounts and blob containers."""


@storage.group("account")
def account() -> None:
    """Manage storage accounts."""


@account.command("create")
@_NAME
@_GROUP
@click.option("-l", "--location", help="Location (default: the resource group's).")
@click.option("--tags", multiple=True, metavar="KEY=VALUE", help="Tags, space-separated KEY=VALUE (repeatable).")
@output_options
@with_client
def create(
    name: str,
    resource_group: str,
    location: str | None,
    tags: tuple[str, ...],
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Create a storage account (3-24 lower-case letters and digits, unique across subscriptions)."""
    body: dict[str, Any] = {"tags": parse_tags(tags), "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}
    if location:
        body["location"] = location
    answer, _ = client.put(account_id(client, resource_group, name), body)
    print_result(answer, output=output, query=query)


@account.command("show")
@_NAME
@_GROUP
@output_options
@with_client
def show(name: str, resource_group: str, output: str, query: str | None, client: TetherClient) -> None:
    """Show a storage account, with its blob endpoint (properties.primaryEndpoints.blob)."""
    print_result(client.get(account_id(client, resource_group, name)), output=output, query=query)


@account.command("list")
@click.option("-g", "--resource-group", "resource_group", help="Only this resource group's accounts.")
@output_options
@with_client
def list_(resource_group: str | None, output: str, query: str | None, client: TetherClient) -> None:
    """List storage accounts of a resource group, or of the whole subscription."""
    print_result(list_in_scope(client, resource_group, "Microsoft.Storage/storageAccounts"), output=output, query=query)


@account.command("delete")
@_NAME
@_GROUP
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@with_client
def delete(name: str, resource_group: str, yes: bool, client: TetherClient) -> None:
    """Delete a storage account and every blob in it."""
    confirm_or_abort(yes, f"The storage account '{name}' and all its blobs will be deleted.")
    client.delete(account_id(client, resource_group, name))


@account.group("keys")
def keys() -> None:
    """The account's access keys (full access to its data: prefer role assignments)."""


@keys.command("list")
@click.option("-n", "--account-name", "name", required=True, help="Name of the storage account.")
@_GROUP
@output_options
@with_client
def keys_list(name: str, resource_group: str, output: str, query: str | None, client: TetherClient) -> None:
    """List the account's two keys (needs Microsoft.Storage/storageAccounts/listKeys/action)."""
    answer = client.post(f"{account_id(client, resource_group, name)}/listKeys")
    print_result(answer.get("keys", []), output=output, query=query)


@storage.group("container")
def container() -> None:
    """Manage blob containers (through ARM: needs .../blobServices/containers/write, no key)."""


@container.command("create")
@click.option("-n", "--name", "name", required=True, help="Name of the container.")
@_ACCOUNT
@_GROUP
@output_options
@with_client
def container_create(
    name: str, account: str, resource_group: str, output: str, query: str | None, client: TetherClient
) -> None:
    """Create a blob container (3-63 lower-case letters, digits and '-')."""
    path = f"{account_id(client, resource_group, account)}/blobServices/default/containers/{name}"
    answer, _ = client.put(path, {"properties": {}})
    print_result(answer, output=output, query=query)


@container.command("list")
@_ACCOUNT
@_GROUP
@output_options
@with_client
def container_list(account: str, resource_group: str, output: str, query: str | None, client: TetherClient) -> None:
    """List the account's blob containers."""
    items = list(client.list(f"{account_id(client, resource_group, account)}/blobServices/default/containers"))
    print_result(items, output=output, query=query)
