"""``tether acr ...``: container registries, as ``az acr`` (create, show, list, delete, login, import, repository).

A registry's login server is ``127.0.0.1:<port>`` (docs/registries.md); images are
``<login server>/<repository>:<tag>``. ``login`` writes a docker config entry; ``import`` pushes with
skopeo; ``repository`` lists with the principal's pull rights.
"""

from __future__ import annotations

from typing import Any

import click

from tether.cli.context import confirm_or_abort, list_in_scope, output_options, print_result, with_client
from tether.cli.groups import parse_tags
from tether.client import TetherClient, ids, registries
from tether.client.registry_import import import_image
from tether.client.views import read_view
from tether.protocol.answers import RegistryAnswer

_NAME = click.option("-n", "--name", "name", required=True, help="Name of the container registry.")
_GROUP = click.option("-g", "--resource-group", "resource_group", help="Resource group (default: found by name).")


def _login_server(client: TetherClient, name: str, resource_group: str | None) -> str:
    found = registries.find(client, name, resource_group=resource_group)
    return read_view(RegistryAnswer, found, what=f"registry '{name}'").properties.loginServer


def registry_id(client: TetherClient, group: str, name: str) -> str:
    return f"{ids.resource_group(client.profile, group)}/providers/{registries.REGISTRIES}/{name}"


@click.group("acr")
def acr() -> None:
    """Manage container registries and their images."""


@acr.command("create")
@_NAME
@click.option("-g", "--resource-group", "resource_group", required=True, help="Resource group of the registry.")
@click.option("--sku", default="Basic", show_default=True, help="Accepted for az's sake; every registry is alike.")
@click.option("-l", "--location", help="Location (default: the resource group's).")
@click.option("--tags", multiple=True, metavar="KEY=VALUE", help="Tags, space-separated KEY=VALUE (repeatable).")
@output_options
@with_client
def create(
    name: str,
    resource_group: str,
    sku: str,
    location: str | None,
    tags: tuple[str, ...],
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Create a container registry (5-50 letters and digits, unique across subscriptions)."""
    body: dict[str, Any] = {"sku": {"name": sku}, "tags": parse_tags(tags), "properties": {}}
    if location:
        body["location"] = location
    answer, _ = client.put(registry_id(client, resource_group, name), body)
    print_result(answer, output=output, query=query)


@acr.command("show")
@_NAME
@_GROUP
@output_options
@with_client
def show(name: str, resource_group: str | None, output: str, query: str | None, client: TetherClient) -> None:
    """Show a registry, with its login server (properties.loginServer)."""
    print_result(registries.find(client, name, resource_group=resource_group), output=output, query=query)


@acr.command("list")
@click.option("-g", "--resource-group", "resource_group", help="Only this resource group's registries.")
@output_options
@with_client
def list_(resource_group: str | None, output: str, query: str | None, client: TetherClient) -> None:
    """List registries of a resource group, or of the whole subscription."""
    print_result(list_in_scope(client, resource_group, registries.REGISTRIES), output=output, query=query)


@acr.command("delete")
@_NAME
@_GROUP
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@with_client
def delete(name: str, resource_group: str | None, yes: bool, client: TetherClient) -> None:
    """Delete a registry and every image in it."""
    found = registries.find(client, name, resource_group=resource_group)
    confirm_or_abort(yes, f"The registry '{name}' and all its images will be deleted.")
    client.delete(str(found["id"]))


@acr.command("login")
@_NAME
@_GROUP
@click.option("--expose-token", is_flag=True, help="Print the token and login server instead of writing them.")
@output_options
@with_client
def login(
    name: str, resource_group: str | None, expose_token: bool, output: str, query: str | None, client: TetherClient
) -> None:
    """Log in to a registry: a refresh token for your principal, written to the docker config.

    docker, skopeo, crane and oras then push and pull with it (as your roles allow: AcrPull, AcrPush).
    The config is $DOCKER_CONFIG/config.json (default ~/.docker/config.json); the token lasts 3 hours.
    Clients must trust Tether's CA (the profile's ca_file) for the login server.
    """
    login_server = _login_server(client, name, resource_group)
    refresh = registries.refresh_token(client, login_server)
    if expose_token:
        answer = {"accessToken": refresh, "loginServer": login_server, "username": registries.DOCKER_TOKEN_USER}
        print_result(answer, output=output, query=query)
        return
    path = registries.docker_config_path()
    registries.write_docker_config(path, login_server, refresh)
    click.echo(f"Login Succeeded: {login_server} (credentials in {path})")


@acr.command("import")
@_NAME
@_GROUP
@click.option("--source", required=True, help="OCI layout dir, image archive, or an image the local cluster built.")
@click.option("-t", "--image", "image", required=True, help="Target repository:tag in the registry.")
@with_client
def import_(name: str, resource_group: str | None, source: str, image: str, client: TetherClient) -> None:
    """Push an image into a registry without a container engine (needs AcrPush)."""
    login_server = _login_server(client, name, resource_group)
    import_image(client, login_server, source=source, image=image)
    click.echo(f"Imported {source} as {login_server}/{image}")


@acr.group("repository")
def repository() -> None:
    """List a registry's repositories and tags."""


@repository.command("list")
@_NAME
@_GROUP
@output_options
@with_client
def repository_list(
    name: str, resource_group: str | None, output: str, query: str | None, client: TetherClient
) -> None:
    """The registry's repositories (needs AcrPull)."""
    login_server = _login_server(client, name, resource_group)
    print_result(registries.repositories(client, login_server), output=output, query=query)


@repository.command("show-tags")
@_NAME
@_GROUP
@click.option("--repository", "repository_name", required=True, help="The repository.")
@output_options
@with_client
def show_tags(
    name: str, resource_group: str | None, repository_name: str, output: str, query: str | None, client: TetherClient
) -> None:
    """The tags of a repository (needs AcrPull)."""
    login_server = _login_server(client, name, resource_group)
    print_result(registries.tags(client, login_server, repository_name), output=output, query=query)
