"""``tether k8s-extension create|show|list|update|delete``: the ML extension on a cluster, as ``az k8s-extension``.

With ``--operator-process`` the extension's operator runs as a local process next to a cluster whose
nodes cannot run images (the local cluster), under its own service account's token, not the
admin's; otherwise it runs in the cluster as the Deployment the install created.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from tether.cli import local_agents
from tether.cli.context import (
    confirm_or_abort,
    output_options,
    print_result,
    put_and_wait,
    state,
    wait_with_progress,
    with_client,
)
from tether.cli.kubeconfig_files import flattened_kubeconfig
from tether.cli.options import MultiValueOption
from tether.client import TetherClient, ids
from tether.client.views import read_view
from tether.protocol.answers import ExtensionAnswer

OPERATOR_MODE_SETTING = "tether.operatorMode"

_CLUSTER = [
    click.option("-g", "--resource-group", "resource_group", required=True, help="Resource group of the cluster."),
    click.option("-c", "--cluster-name", required=True, help="Name of the cluster."),
    click.option(
        "-t",
        "--cluster-type",
        required=True,
        type=click.Choice(["managedClusters", "connectedClusters"], case_sensitive=False),
        help="managedClusters (AKS role) or connectedClusters (Arc role).",
    ),
]
_NAME = click.option("-n", "--name", required=True, help="Name of the extension instance.")


def _cluster_options(func: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_CLUSTER):
        func = option(func)
    return func


def _settings(pairs: tuple[str, ...], flag: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for pair in pairs:
        for item in pair.split():
            key, sep, value = item.partition("=")
            if not key or not sep:
                raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint=flag)
            settings[key] = value
    return settings


def operator_name(resource_group: str, cluster_name: str) -> str:
    return f"extension-{resource_group}-{cluster_name}".lower()


def _start_operator(kubeconfig: Path, context: str | None, agent: str) -> Path:
    """Make a kubeconfig for the operator's service account (with the user's admin one) and start it."""
    # Imported here: only this path needs a Kubernetes client, and other commands should start fast.
    from tether.kube.access import direct_connection, parse_kubeconfig, server_of
    from tether.kube.extension_install import operator_kubeconfig

    admin = flattened_kubeconfig(kubeconfig, context=context)
    config = parse_kubeconfig(admin)

    async def issue() -> str:
        connection = direct_connection(config)
        try:
            return await operator_kubeconfig(
                connection.kube, server_url=server_of(config), ca_pem=connection.ca_pem() or ""
            )
        finally:
            await connection.close()

    directory = local_agents.agent_dir(state().config_dir, agent)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "operator.kubeconfig"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(asyncio.run(issue()))
    return local_agents.start(state().config_dir, agent, ["agent", "extension", "--kubeconfig", str(path)])


@click.group("k8s-extension")
def k8s_extension() -> None:
    """Manage the ML extension (Microsoft.AzureML.Kubernetes) on clusters."""


@k8s_extension.command("create")
@_NAME
@_cluster_options
@click.option("--extension-type", required=True, help="Microsoft.AzureML.Kubernetes (the one type Tether installs).")
@click.option(
    "--scope",
    type=click.Choice(["cluster", "namespace"], case_sensitive=False),
    default="cluster",
    show_default=True,
    help="Installation scope; the ML extension needs 'cluster'.",
)
@click.option("--release-namespace", default=None, help="Namespace of the release (default: azureml).")
@click.option("--release-train", default=None, help="Release train (default: stable).")
@click.option("--version", "version", default=None, help="Version to install (default: the server's).")
@click.option(
    "--auto-upgrade-minor-version/--no-auto-upgrade-minor-version",
    default=True,
    show_default=True,
    help="Upgrade minor versions automatically.",
)
@click.option(
    "--configuration-settings",
    "--config",
    "config",
    cls=MultiValueOption,
    multiple=True,
    metavar="KEY=VALUE ...",
    help="Settings, e.g. enableTraining=True nodeSelector.pool=gpu (repeatable).",
)
@click.option(
    "--configuration-protected-settings",
    "--config-protected",
    "config_protected",
    cls=MultiValueOption,
    multiple=True,
    metavar="KEY=VALUE",
    help="Protected settings: stored, never returned.",
)
@click.option(
    "--operator-process",
    is_flag=True,
    help="Run the operator as a local process (clusters whose nodes cannot run images, such as "
    "`tether local-cluster`); needs --kubeconfig with admin access to the cluster.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Admin kubeconfig of the cluster, used here to give the local operator its own credentials.",
)
@click.option("--context", help="Context of --kubeconfig (default: its current context).")
@click.option("--no-wait", is_flag=True, help="Return at once; the install goes on in the server.")
@output_options
@with_client
def create(
    name: str,
    resource_group: str,
    cluster_name: str,
    cluster_type: str,
    extension_type: str,
    scope: str,
    release_namespace: str | None,
    release_train: str | None,
    version: str | None,
    auto_upgrade_minor_version: bool,
    config: tuple[str, ...],
    config_protected: tuple[str, ...],
    operator_process: bool,
    kubeconfig: Path | None,
    context: str | None,
    no_wait: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Install the ML extension on a cluster (CRDs, RBAC, configuration and the operator, in namespace azureml)."""
    if operator_process and (kubeconfig is None or no_wait):
        raise click.UsageError("--operator-process needs --kubeconfig, and waits for the install (no --no-wait).")
    settings = _settings(config, "--configuration-settings")
    if operator_process:
        settings[OPERATOR_MODE_SETTING] = "process"
    scope_body = (
        {"cluster": {"releaseNamespace": release_namespace or "azureml"}}
        if scope.lower() == "cluster"
        else {"namespace": {"targetNamespace": release_namespace}}
    )
    properties: dict[str, object] = {
        "extensionType": extension_type,
        "autoUpgradeMinorVersion": auto_upgrade_minor_version,
        "scope": scope_body,
        "configurationSettings": settings,
        "configurationProtectedSettings": _settings(config_protected, "--configuration-protected-settings"),
    }
    if release_train:
        properties["releaseTrain"] = release_train
    if version:
        properties["version"] = version
    cluster_id = ids.cluster(client.profile, resource_group, cluster_name, cluster_type=cluster_type)
    resource_id = ids.extension(cluster_id, name)
    _, operation = client.put(resource_id, {"identity": {"type": "SystemAssigned"}, "properties": properties})
    if no_wait:
        return
    if operation:
        wait_with_progress(client, operation, message=f"Installing extension {name} on {cluster_name}")
    if operator_process:
        assert kubeconfig is not None
        directory = _start_operator(kubeconfig, context, operator_name(resource_group, cluster_name))
        click.echo(f"The extension's operator runs as a local process (log: {directory / 'agent.log'}).", err=True)
    print_result(client.get(resource_id), output=output, query=query)


@k8s_extension.command("show")
@_NAME
@_cluster_options
@output_options
@with_client
def show(
    name: str,
    resource_group: str,
    cluster_name: str,
    cluster_type: str,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Show an extension: provisioningState, health (operator heartbeat and checks) and instance types."""
    cluster_id = ids.cluster(client.profile, resource_group, cluster_name, cluster_type=cluster_type)
    print_result(client.get(ids.extension(cluster_id, name)), output=output, query=query)


@k8s_extension.command("list")
@_cluster_options
@output_options
@with_client
def list_(
    resource_group: str, cluster_name: str, cluster_type: str, output: str, query: str | None, client: TetherClient
) -> None:
    """List the extensions of a cluster."""
    cluster_id = ids.cluster(client.profile, resource_group, cluster_name, cluster_type=cluster_type)
    items = list(client.list(f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions"))
    print_result(items, output=output, query=query)


@k8s_extension.command("update")
@_NAME
@_cluster_options
@click.option(
    "--configuration-settings",
    "--config",
    "config",
    cls=MultiValueOption,
    multiple=True,
    metavar="KEY=VALUE ...",
    help="Settings to set (merged over the current ones).",
)
@click.option("--no-wait", is_flag=True, help="Return at once; the update goes on in the server.")
@output_options
@with_client
def update(
    name: str,
    resource_group: str,
    cluster_name: str,
    cluster_type: str,
    config: tuple[str, ...],
    no_wait: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Change an extension's settings; the server applies them to the cluster."""
    cluster_id = ids.cluster(client.profile, resource_group, cluster_name, cluster_type=cluster_type)
    resource_id = ids.extension(cluster_id, name)
    current = read_view(ExtensionAnswer, client.get(resource_id), what=f"extension '{name}'").properties
    properties = {
        "extensionType": current.extensionType,
        "releaseTrain": current.releaseTrain,
        "scope": current.scope,
        "configurationSettings": {
            **current.configurationSettings,
            **_settings(config, "--configuration-settings"),
        },
    }
    answer = put_and_wait(
        client, resource_id, {"properties": properties}, no_wait=no_wait, message=f"Updating extension {name}"
    )
    if answer is not None:
        print_result(answer, output=output, query=query)


@k8s_extension.command("delete")
@_NAME
@_cluster_options
@click.option("-y", "--yes", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--force", is_flag=True, help="Remove Tether's record even if the cluster cannot be reached.")
@click.option("--no-wait", is_flag=True, help="Return at once; the removal goes on in the server.")
@with_client
def delete(
    name: str,
    resource_group: str,
    cluster_name: str,
    cluster_type: str,
    yes: bool,
    force: bool,
    no_wait: bool,
    client: TetherClient,
) -> None:
    """Uninstall the extension from the cluster and delete it; stops a local operator process."""
    confirm_or_abort(yes, f"Extension '{name}' will be removed from cluster '{cluster_name}'.")
    cluster_id = ids.cluster(client.profile, resource_group, cluster_name, cluster_type=cluster_type)
    operation = client.delete(ids.extension(cluster_id, name), params={"forceDelete": "true"} if force else None)
    if operation and not no_wait:
        wait_with_progress(client, operation, message=f"Removing extension {name}")
    local_agents.stop(state().config_dir, operator_name(resource_group, cluster_name))
