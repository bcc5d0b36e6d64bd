"""``tether connectedk8s connect|show|list|delete``: connected clusters (the Arc role).

``connect`` creates the resource, issues the agent's credential, and installs the connect agent:
with ``--agent-process`` as a local process next to a cluster with simulated nodes (our local
cluster); otherwise it prints the manifest to apply in the cluster (deploy/connect-agent.yaml).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from tether.cli import local_agents
from tether.cli.context import confirm_or_abort, list_in_scope, output_options, print_result, state, with_client
from tether.cli.groups import parse_tags
from tether.client import ClientError, TetherClient, ids
from tether.client.views import read_view
from tether.protocol.answers import ConnectedClusterAnswer

_GROUP = click.option("-g", "--resource-group", "resource_group", required=True, help="Resource group of the cluster.")
_NAME = click.option("-n", "--name", required=True, help="Name of the connected cluster.")
_CONNECT_TIMEOUT_S = 60.0


def agent_name(resource_group: str, name: str) -> str:
    return f"connect-{resource_group}-{name}".lower()


@click.group("connectedk8s")
def connectedk8s() -> None:
    """Manage connected clusters: an agent in the cluster dials out to Tether; nothing dials in."""


@connectedk8s.command("connect")
@_NAME
@_GROUP
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Kubeconfig the local agent uses to reach its API server (with --agent-process).",
)
@click.option("--kube-context", help="Context of the kubeconfig (default: its current context).")
@click.option(
    "--agent-process",
    is_flag=True,
    help="Run the connect agent as a local process (for clusters whose nodes cannot run images, "
    "such as `tether local-cluster`). Without it, apply deploy/connect-agent.yaml in the cluster.",
)
@click.option("-l", "--location", help="Location (default: the resource group's).")
@click.option("--tags", multiple=True, metavar="KEY=VALUE", help="Tags, space-separated KEY=VALUE.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the agent to connect.")
@output_options
@with_client
def connect(
    name: str,
    resource_group: str,
    kubeconfig: Path | None,
    kube_context: str | None,
    agent_process: bool,
    location: str | None,
    tags: tuple[str, ...],
    no_wait: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Connect a cluster: create it in Tether, issue the agent's credential and start the agent."""
    if agent_process and kubeconfig is None:
        raise click.UsageError("--agent-process needs --kubeconfig: the agent reaches its API server with it.")
    resource_id = ids.connected_cluster(client.profile, resource_group, name)
    body: dict[str, object] = {
        "tags": parse_tags(tags),
        "identity": {"type": "SystemAssigned"},
        "properties": {"agentPublicKeyCertificate": ""},
    }
    if location:
        body["location"] = location
    client.put(resource_id, body)
    issued = client.post(resource_id + "/issueAgentCredential", {})
    directory = local_agents.agent_dir(state().config_dir, agent_name(resource_group, name))
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    credential_file = directory / "credential"
    fd = os.open(credential_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(issued["credential"])
    if not agent_process:
        click.echo(
            f"Agent credential written to {credential_file}. Put it in the Secret of deploy/connect-agent.yaml "
            f"with relay URL {issued['relayUrl']} and cluster id {issued['clusterId']}, and apply it in the cluster.",
            err=True,
        )
    else:
        args = [
            "agent",
            "connect",
            "--relay-url",
            issued["relayUrl"],
            "--cluster-id",
            issued["clusterId"],
            "--credential-file",
            str(credential_file),
            "--kubeconfig",
            str(kubeconfig),
        ]
        if kube_context:
            args += ["--context", kube_context]
        if client.profile.ca_file:
            args += ["--ca-file", client.profile.ca_file]
        local_agents.start(state().config_dir, agent_name(resource_group, name), args)
        if not no_wait:
            _wait_connected(client, resource_id)
    print_result(client.get(resource_id), output=output, query=query)


def _wait_connected(client: TetherClient, resource_id: str) -> None:
    deadline = time.monotonic() + _CONNECT_TIMEOUT_S
    while time.monotonic() < deadline:
        cluster = read_view(ConnectedClusterAnswer, client.get(resource_id), what=f"connected cluster '{resource_id}'")
        if cluster.properties.connectivityStatus == "Connected":
            return
        time.sleep(0.25)
    raise ClientError(
        f"The agent did not connect within {_CONNECT_TIMEOUT_S:.0f} s; see its log under "
        f"{state().config_dir / 'agents'}.",
        code="AgentNotConnected",
    )


@connectedk8s.command("show")
@_NAME
@_GROUP
@output_options
@with_client
def show(name: str, resource_group: str, output: str, query: str | None, client: TetherClient) -> None:
    """Show a connected cluster, with its connectivityStatus and lastConnectivityTime."""
    print_result(client.get(ids.connected_cluster(client.profile, resource_group, name)), output=output, query=query)


@connectedk8s.command("list")
@click.option("-g", "--resource-group", "resource_group", help="Only this resource group's clusters.")
@output_options
@with_client
def list_(resource_group: str | None, output: str, query: str | None, client: TetherClient) -> None:
    """List connected clusters."""
    clusters = list_in_scope(client, resource_group, "Microsoft.Kubernetes/connectedClusters")
    print_result(clusters, output=output, query=query)


@connectedk8s.command("delete")
@_NAME
@_GROUP
@click.option("-y", "--yes", is_flag=True, help="Do not prompt for confirmation.")
@with_client
def delete(name: str, resource_group: str, yes: bool, client: TetherClient) -> None:
    """Disconnect a cluster: delete it in Tether, revoke its agent and stop a local agent process."""
    confirm_or_abort(yes, f"Connected cluster '{name}' will be removed from Tether.")
    client.delete(ids.connected_cluster(client.profile, resource_group, name))
    local_agents.stop(state().config_dir, agent_name(resource_group, name))
