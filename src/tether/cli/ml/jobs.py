"""``tether ml job create|show|list|stream|cancel``: command jobs on Kubernetes computes, as ``az ml job``.

``create -f job.yml`` reads the Azure ML command-job YAML (the subset Tether runs: type, command,
environment.image, compute, resources.instance_type/instance_count, environment_variables,
display_name, experiment_name, description, tags); an unknown field is an error naming it.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from tether.cli.context import output_options, print_result, with_client
from tether.cli.ml.options import workspace_options
from tether.client import ClientError, TetherClient, ids
from tether.client.views import read_view
from tether.protocol.answers import JobAnswer

_KNOWN = {
    "$schema",
    "type",
    "name",
    "command",
    "environment",
    "compute",
    "resources",
    "environment_variables",
    "display_name",
    "experiment_name",
    "description",
    "tags",
    "code",
    "inputs",
    "outputs",
}
_TERMINAL = {"Completed", "Failed", "Canceled"}


def _apply_set(document: dict[str, Any], assignments: tuple[str, ...]) -> None:
    """``--set a.b=c``: set a (dotted) field of the YAML before it is read."""
    for assignment in assignments:
        path, sep, value = assignment.partition("=")
        if not sep or not path:
            raise click.BadParameter(f"'{assignment}' is not path=value", param_hint="--set")
        node = document
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise click.BadParameter(f"'{path}': '{key}' is not a mapping", param_hint="--set")
        node[leaf] = yaml.safe_load(value) if value else value


def job_body(document: dict[str, Any], *, source: str) -> dict[str, Any]:
    """The ARM body of a command job YAML; clear errors for what Tether does not run."""
    unknown = sorted(set(document) - _KNOWN)
    if unknown:
        raise click.BadParameter(f"{source}: unknown field(s) {', '.join(unknown)}", param_hint="--file")
    for unsupported in ("code", "inputs", "outputs"):
        if document.get(unsupported):
            raise click.BadParameter(f"{source}: '{unsupported}' is not supported yet", param_hint="--file")
    if str(document.get("type", "command")).lower() != "command":
        raise click.BadParameter(
            f"{source}: type '{document['type']}' is not supported; use command", param_hint="--file"
        )
    for required in ("command", "environment", "compute"):
        if not document.get(required):
            raise click.BadParameter(f"{source}: '{required}' is required", param_hint="--file")
    environment = document["environment"]
    resources = document.get("resources") or {}
    unknown_resources = sorted(set(resources) - {"instance_type", "instance_count"})
    if unknown_resources:
        raise click.BadParameter(
            f"{source}: unknown resources field(s) {', '.join(unknown_resources)}", param_hint="--file"
        )
    properties: dict[str, Any] = {
        "jobType": "Command",
        "command": str(document["command"]).strip(),
        "computeId": str(document["compute"]),
        "resources": {"instanceCount": int(resources.get("instance_count", 1))},
        "environmentVariables": {str(k): str(v) for k, v in (document.get("environment_variables") or {}).items()},
        "tags": {str(k): str(v) for k, v in (document.get("tags") or {}).items()},
    }
    if isinstance(environment, dict):
        if set(environment) - {"image"}:
            raise click.BadParameter(f"{source}: environment supports only 'image'", param_hint="--file")
        properties["environment"] = {"image": environment.get("image")}
    else:
        properties["environmentId"] = str(environment)
    if resources.get("instance_type"):
        properties["resources"]["instanceType"] = str(resources["instance_type"])
    for yaml_key, wire_key in (
        ("display_name", "displayName"),
        ("experiment_name", "experimentName"),
        ("description", "description"),
    ):
        if document.get(yaml_key):
            properties[wire_key] = str(document[yaml_key])
    return {"properties": properties}


def _job_view(answer: dict[str, Any]) -> JobAnswer:
    return read_view(JobAnswer, answer, what=f"job '{answer.get('name')}'")


def _stream(client: TetherClient, job_id: str) -> dict[str, Any]:
    """Follow the job: its timeline as it moves, then its logs until it ends. Returns the final job."""
    shown = 0
    while True:
        job = client.get(job_id)
        timeline = _job_view(job).properties.timeline
        for entry in timeline[shown:]:
            reason = f" ({entry['reason']})" if entry.get("reason") else ""
            click.echo(f"{entry['time']}  {entry['phase']}{reason}", err=True)
        shown = len(timeline)
        status = _job_view(job).properties.status
        if status in _TERMINAL or status == "Running":
            break
        time.sleep(0.5)
    if status == "Running" or any(e["phase"] == "PodsCreated" for e in timeline):
        try:
            for line in client.stream_lines(job_id + "/logs", params={"follow": "true"}):
                click.echo(line)
        except ClientError as e:
            click.echo(f"(logs unavailable: {e})", err=True)
    while _job_view(job).properties.status not in _TERMINAL:
        time.sleep(0.5)
        job = client.get(job_id)
    for entry in _job_view(job).properties.timeline[shown:]:
        reason = f" ({entry['reason']})" if entry.get("reason") else ""
        click.echo(f"{entry['time']}  {entry['phase']}{reason}", err=True)
    return job


@click.group("job")
def job() -> None:
    """Run command jobs on compute targets."""


@job.command("create")
@workspace_options
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Command job YAML (Azure ML shape).",
)
@click.option("-n", "--name", help="Job name (default: a generated one).")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a YAML field, e.g. --set resources.instance_count=2 (repeatable).",
)
@click.option("-s", "--stream", "stream", is_flag=True, help="Follow the job's timeline and logs until it ends.")
@output_options
@with_client
def create(
    resource_group: str,
    workspace_name: str,
    file: Path,
    name: str | None,
    assignments: tuple[str, ...],
    stream: bool,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Submit a command job."""
    try:
        document = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as e:
        raise click.BadParameter(f"{file} is not valid YAML: {e}", param_hint="--file") from e
    if not isinstance(document, dict):
        raise click.BadParameter(f"{file} is not a YAML mapping", param_hint="--file")
    _apply_set(document, assignments)
    name = name or document.get("name") or f"job-{secrets.token_hex(4)}"
    document.pop("name", None)
    job_id = ids.job(client.profile, resource_group, workspace_name, name)
    answer, _ = client.put(job_id, job_body(document, source=str(file)))
    if stream:
        answer = _stream(client, job_id)
        if _job_view(answer).properties.status != "Completed":
            print_result(answer, output=output, query=query)
            sys.exit(1)
    print_result(answer, output=output, query=query)


@job.command("show")
@workspace_options
@click.option("-n", "--name", required=True, help="Job name.")
@output_options
@with_client
def show(
    resource_group: str, workspace_name: str, name: str, output: str, query: str | None, client: TetherClient
) -> None:
    """Show a job, with its timeline (every phase with its time and the reason for any wait)."""
    answer = client.get(ids.job(client.profile, resource_group, workspace_name, name))
    if output == "table" and query is None:
        shown = _job_view(answer)
        props = shown.properties
        click.echo(f"{shown.name}: {props.status} on {props.computeId.rsplit('/', 1)[-1]}")
        for entry in props.timeline:
            reason = f"  {entry['reason']}" if entry.get("reason") else ""
            click.echo(f"  {entry['time']}  {entry['phase']:<15}{reason}")
        if props.error:
            click.echo(f"  error: ({props.error['code']}) {props.error['message']}")
        return
    print_result(answer, output=output, query=query)


@job.command("list")
@workspace_options
@output_options
@with_client
def list_(resource_group: str, workspace_name: str, output: str, query: str | None, client: TetherClient) -> None:
    """List the jobs of a workspace."""
    items = list(client.list(ids.workspace(client.profile, resource_group, workspace_name) + "/jobs"))
    print_result(items, output=output, query=query)


@job.command("stream")
@workspace_options
@click.option("-n", "--name", required=True, help="Job name.")
@with_client
def stream_(resource_group: str, workspace_name: str, name: str, client: TetherClient) -> None:
    """Follow a job's timeline and its pods' logs until it ends (exit 1 unless it Completed)."""
    final = _stream(client, ids.job(client.profile, resource_group, workspace_name, name))
    status = _job_view(final).properties.status
    click.echo(f"Job {name} {status}.", err=True)
    if status != "Completed":
        error = _job_view(final).properties.error
        if error:
            click.echo(f"ERROR: ({error.get('code')}) {error.get('message')}", err=True)
        sys.exit(1)


@job.command("cancel")
@workspace_options
@click.option("-n", "--name", required=True, help="Job name.")
@output_options
@with_client
def cancel(
    resource_group: str, workspace_name: str, name: str, output: str, query: str | None, client: TetherClient
) -> None:
    """Cancel a job: its pods are deleted and it ends Canceled."""
    answer = client.post(ids.job(client.profile, resource_group, workspace_name, name) + "/cancel", {})
    print_result(answer, output=output, query=query)
