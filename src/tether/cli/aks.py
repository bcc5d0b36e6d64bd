"""``tether aks create|show|list|delete|get-credentials``: managed clusters (the AKS role).

Tether does not create clusters: ``aks create`` registers an existing one from a kubeconfig, whose
credentials the server then holds (sealed at rest) to reach the cluster's API server directly.
"""

from __future__ import annotations

import base64
from pathlib import Path

import click

from tether.cli.context import (
    confirm_or_abort,
    list_in_scope,
    output_options,
    print_result,
    put_and_wait,
    with_client,
)
from tether.cli.groups import parse_tags
from tether.cli.kubeconfig_files import flattened_kubeconfig
from tether.client import TetherClient, ids

_GROUP = click.option("-g", "--resource-group", "resource_group", required=True, help="Resource group of the cluster.")
_NAME = click.option("-n", "--name", required=True, help="Name of the cluster in Tether.")


@click.group("aks")
def aks() -> None:
    """Manage managed clusters: existing clusters the control plane reaches directly."""


@aks.command("create")
@_NAME
@_GROUP
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Kubeconfig with admin access to the cluster; the chosen context is sent with its files inlined.",
)
@click.option("--context", help="Context of the kubeconfig to use (default: its current context).")
@click.option("-l", "--location", help="Location (default: the resource group's).")
@click.option("--tags", multiple=True, metavar="KEY=VALUE", help="Tags, space-separated KEY=VALUE.")
@click.option("--no-wait", is_flag=True, help="Return at once; the server checks the cluster in the background.")
@output_options
@with_client
def create(
    name: str,
    resource_group: str,
    kubeconfig: Path,
    context: str | None,
    location: str | None,
    tags: tuple[str, ...],
    no_wait: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Register an existing cluster; the server checks its API server answers and records its version,
    node count and service-account issuer."""
    resource_id = ids.managed_cluster(client.profile, resource_group, name)
    properties: dict[str, object] = {"kubeconfig": flattened_kubeconfig(kubeconfig, context=context)}
    body: dict[str, object] = {"tags": parse_tags(tags), "properties": properties}
    if location:
        body["location"] = location
    answer = put_and_wait(client, resource_id, body, no_wait=no_wait, message=f"Registering cluster {name}")
    if answer is not None:
        print_result(answer, output=output, query=query)


@aks.command("show")
@_NAME
@_GROUP
@output_options
@with_client
def show(name: str, resource_group: str, output: str, query: str | None, client: TetherClient) -> None:
    """Show a managed cluster (never its credentials)."""
    print_result(client.get(ids.managed_cluster(client.profile, resource_group, name)), output=output, query=query)


@aks.command("list")
@click.option("-g", "--resource-group", "resource_group", help="Only this resource group's clusters.")
@output_options
@with_client
def list_(resource_group: str | None, output: str, query: str | None, client: TetherClient) -> None:
    """List managed clusters."""
    clusters = list_in_scope(client, resource_group, "Microsoft.ContainerService/managedClusters")
    print_result(clusters, output=output, query=query)


@aks.command("delete")
@_NAME
@_GROUP
@click.option("-y", "--yes", is_flag=True, help="Do not prompt for confirmation.")
@with_client
def delete(name: str, resource_group: str, yes: bool, client: TetherClient) -> None:
    """Forget a managed cluster in Tether (the cluster itself is not touched)."""
    confirm_or_abort(yes, f"Cluster '{name}' will be removed from Tether.")
    client.delete(ids.managed_cluster(client.profile, resource_group, name))


@aks.command("get-credentials")
@_NAME
@_GROUP
@click.option(
    "--admin", is_flag=True, required=True, help="Get the cluster admin credential (the only kind Tether holds)."
)
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the kubeconfig to this file (mode 0600) instead of printing it.",
)
@with_client
def get_credentials(name: str, resource_group: str, admin: bool, file: Path | None, client: TetherClient) -> None:
    """Get the admin kubeconfig; needs the Azure Kubernetes Service Cluster Admin Role on the cluster."""
    del admin
    answer = client.post(ids.managed_cluster(client.profile, resource_group, name) + "/listClusterAdminCredential", {})
    kubeconfig = base64.b64decode(answer["kubeconfigs"][0]["value"]).decode()
    if file is None:
        click.echo(kubeconfig, nl=False)
        return
    file.parent.mkdir(parents=True, exist_ok=True)
    file.touch(mode=0o600)
    file.write_text(kubeconfig)
    click.echo(f'Merged "{name}" as current context in {file}', err=True)
