"""``tether ml compute attach|show|list|update|detach``: Kubernetes compute targets, as ``az ml compute``.

The seed's two attach commands run verbatim with ``az`` replaced by ``tether``, quirks included:
lower-case ``managedclusters``, an identity id without its leading '/', ``--type`` in any case,
``--user-assigned-identities`` without ``--identity-type`` (meaning UserAssigned), and ``--no-wait``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from tether.cli.context import (
    confirm_or_abort,
    output_options,
    print_result,
    put_and_wait,
    wait_with_progress,
    with_client,
)
from tether.cli.ml.options import workspace_options
from tether.client import ClientError, OperationFailed, TetherClient, ids
from tether.client.views import read_view
from tether.protocol.answers import ComputeAnswer

GRANTS_HEADER = "x-tether-role-assignments-created"


def _compute_view(answer: dict[str, Any]) -> ComputeAnswer:
    return read_view(ComputeAnswer, answer, what=f"compute '{answer.get('name')}'")


def _warn(message: str) -> None:
    click.echo(f"WARNING: {message}", err=True)


def identity_body(identity_type: str | None, user_assigned: str | None) -> dict[str, Any] | None:
    """The ARM identity block; several user-assigned ids: the first is used, with a warning (S8)."""
    ids_given = [i.strip() for i in (user_assigned or "").split(",") if i.strip()]
    kind = (identity_type or ("UserAssigned" if ids_given else "")).replace("_", "").lower()
    if not kind:
        return None
    if kind == "systemassigned":
        if ids_given:
            raise click.UsageError("--user-assigned-identities goes with --identity-type UserAssigned.")
        return {"type": "SystemAssigned"}
    if kind == "userassigned":
        if not ids_given:
            raise click.UsageError("--identity-type UserAssigned needs --user-assigned-identities <identity id>.")
        if len(ids_given) > 1:
            _warn(f"{len(ids_given)} user-assigned identities given; only the first is used: {ids_given[0]}")
        return {"type": "UserAssigned", "userAssignedIdentities": {ids_given[0]: {}}}
    raise click.BadParameter(f"'{identity_type}' is not SystemAssigned or UserAssigned", param_hint="--identity-type")


def _from_file(path: Path | None) -> dict[str, Any]:
    """An Azure ML compute YAML (type: kubernetes, name, resource_id, namespace, identity, description)."""
    if path is None:
        return {}
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise click.BadParameter(f"cannot read {path}: {e}", param_hint="--file") from e
    if not isinstance(document, dict):
        raise click.BadParameter(f"{path} is not a YAML mapping", param_hint="--file")
    known = {"$schema", "type", "name", "resource_id", "namespace", "identity", "description", "tags"}
    unknown = sorted(set(document) - known)
    if unknown:
        raise click.BadParameter(f"{path}: unknown field(s) {', '.join(unknown)}", param_hint="--file")
    return document


def _identity_from_file(document: dict[str, Any]) -> tuple[str | None, str | None]:
    identity = document.get("identity") or {}
    uai = identity.get("user_assigned_identities") or []
    ids_text = ",".join(i.get("resource_id", "") if isinstance(i, dict) else str(i) for i in uai) or None
    return identity.get("type"), ids_text


def _print_grants(response_headers: Any) -> None:
    raw = response_headers.get(GRANTS_HEADER)
    for grant in json.loads(raw) if raw else []:
        click.echo(f"Granted '{grant['role']}' on {grant['scope']} to the workspace identity (S10).", err=True)


def _print_checks(answer: dict[str, Any]) -> None:
    marks = {"pass": "PASS", "fail": "FAIL", "warn": "WARN"}
    identity = answer.get("workspaceIdentity", {})
    click.echo(f"Dry run as the workspace identity {identity.get('name')} ({identity.get('principalId')}):")
    for check in answer["checks"]:
        click.echo(f"  [{marks.get(check['status'], check['status'])}] {check['step']}: {check['message']}")
        if check.get("fix") and check["status"] != "pass":
            click.echo(f"         fix: {check['fix']}")
    click.echo("Ready to attach." if answer["ready"] else "Not ready: fix the failed checks above.")


@click.group("compute")
def compute() -> None:
    """Manage compute targets: Kubernetes clusters attached to a workspace."""


@compute.command("attach")
@workspace_options
@click.option("-n", "--name", help="Name of the compute target (2-16 letters, digits, '-').")
@click.option("-t", "--type", "type_", help="Type of compute: Kubernetes.")
@click.option("--resource-id", help="Id of the cluster: .../managedClusters/<c> or .../connectedClusters/<c>.")
@click.option("--namespace", help="Existing Kubernetes namespace for this compute's workloads (default: default).")
@click.option("-i", "--identity-type", help="SystemAssigned or UserAssigned (any case).")
@click.option("--user-assigned-identities", help="User-assigned identity id(s), comma-separated; the first is used.")
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Compute YAML (type: kubernetes, name, resource_id, namespace, identity); flags override it.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Run every attach check as the workspace identity and print each with its fix; create nothing.",
)
@click.option("--no-wait", is_flag=True, help="Return at once; the attach goes on in the server.")
@output_options
@with_client
def attach(
    resource_group: str,
    workspace_name: str,
    name: str | None,
    type_: str | None,
    resource_id: str | None,
    namespace: str | None,
    identity_type: str | None,
    user_assigned_identities: str | None,
    file: Path | None,
    dry_run: bool,
    no_wait: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Attach a Kubernetes cluster to a workspace as a compute target.

    \b
    tether ml compute attach -g rg -w ws --type Kubernetes --name k8s-compute \\
      --resource-id /subscriptions/<sub>/resourceGroups/rg/providers/Microsoft.ContainerService/managedclusters/c1 \\
      --identity-type SystemAssigned --namespace team-a --no-wait
    """
    document = _from_file(file)
    name = name or document.get("name")
    kind = type_ or document.get("type") or "Kubernetes"
    resource_id = resource_id or document.get("resource_id")
    if not name or not resource_id:
        raise click.UsageError("--name and --resource-id are required (or name and resource_id in --file).")
    if kind.lower() != "kubernetes":
        raise click.BadParameter(f"'{kind}': Tether attaches Kubernetes computes only", param_hint="--type")
    file_type, file_ids = _identity_from_file(document)
    identity = identity_body(identity_type or file_type, user_assigned_identities or file_ids)
    inner = {"namespace": namespace or document.get("namespace") or "default"}
    properties: dict[str, Any] = {"computeType": "Kubernetes", "resourceId": resource_id, "properties": inner}
    if document.get("description"):
        properties["description"] = document["description"]
    body: dict[str, Any] = {"properties": properties}
    if identity:
        body["identity"] = identity
    compute_id = ids.compute(client.profile, resource_group, workspace_name, name)
    if dry_run:
        answer = client.post(compute_id + "/preflight", body)
        if output == "json" and sys.stdout.isatty() is False and query is None:
            print_result(answer, output=output, query=query)
        else:
            _print_checks(answer)
        if not answer["ready"]:
            sys.exit(1)
        return
    response = client.request("PUT", compute_id, json=body)
    _print_grants(response.headers)
    operation = response.headers.get("Azure-AsyncOperation")
    if no_wait:
        return
    if operation:
        try:
            wait_with_progress(client, operation, message=f"Attaching {name}")
        except OperationFailed as e:
            raise ClientError(e.message, code=e.code, details=e.details) from e
    print_result(client.get(compute_id), output=output, query=query)


@compute.command("show")
@workspace_options
@click.option("-n", "--name", required=True, help="Name of the compute target.")
@output_options
@with_client
def show(
    resource_group: str, workspace_name: str, name: str, output: str, query: str | None, client: TetherClient
) -> None:
    """Show a compute target: provisioningState, namespace, identity, instance types."""
    print_result(
        client.get(ids.compute(client.profile, resource_group, workspace_name, name)), output=output, query=query
    )


@compute.command("list")
@workspace_options
@click.option("-t", "--type", "type_", help="Only computes of this type (Kubernetes).")
@output_options
@with_client
def list_(
    resource_group: str, workspace_name: str, type_: str | None, output: str, query: str | None, client: TetherClient
) -> None:
    """List the compute targets of a workspace."""
    items = list(client.list(ids.workspace(client.profile, resource_group, workspace_name) + "/computes"))
    if type_:
        items = [i for i in items if _compute_view(i).properties.computeType.lower() == type_.lower()]
    print_result(items, output=output, query=query)


@compute.command("update")
@workspace_options
@click.option("-n", "--name", required=True, help="Name of the compute target.")
@click.option("-i", "--identity-type", help="SystemAssigned or UserAssigned.")
@click.option("--user-assigned-identities", help="User-assigned identity id(s); the first is used.")
@click.option("--no-wait", is_flag=True, help="Return at once; the update goes on in the server.")
@output_options
@with_client
def update(
    resource_group: str,
    workspace_name: str,
    name: str,
    identity_type: str | None,
    user_assigned_identities: str | None,
    no_wait: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Change a compute target's identity without detaching it (S14, B5)."""
    identity = identity_body(identity_type, user_assigned_identities)
    if identity is None:
        raise click.UsageError("Nothing to update: give --identity-type and/or --user-assigned-identities.")
    compute_id = ids.compute(client.profile, resource_group, workspace_name, name)
    current = _compute_view(client.get(compute_id)).properties
    body = {
        "identity": identity,
        "properties": {
            "computeType": "Kubernetes",
            "resourceId": current.resourceId,
            "properties": {"namespace": current.properties.namespace},
        },
    }
    answer = put_and_wait(client, compute_id, body, no_wait=no_wait, message=f"Updating {name}")
    if answer is not None:
        print_result(answer, output=output, query=query)


@compute.command("detach")
@workspace_options
@click.option("-n", "--name", required=True, help="Name of the compute target.")
@click.option("-y", "--yes", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--force", is_flag=True, help="Detach even with unfinished jobs (their pods run on until they end).")
@click.option("--no-wait", is_flag=True, help="Return at once.")
@with_client
def detach(
    resource_group: str, workspace_name: str, name: str, yes: bool, force: bool, no_wait: bool, client: TetherClient
) -> None:
    """Detach a compute target: removes it and its system-assigned identity, never the cluster."""
    confirm_or_abort(yes, f"Compute '{name}' will be detached from workspace '{workspace_name}'.")
    params = {"underlyingResourceAction": "Detach", **({"force": "true"} if force else {})}
    operation = client.delete(ids.compute(client.profile, resource_group, workspace_name, name), params=params)
    if operation and not no_wait:
        wait_with_progress(client, operation, message=f"Detaching {name}")
