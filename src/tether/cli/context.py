"""What every command shares: the config directory, the client, output options, waiting with progress."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from tether.cli.output import FORMATS, emit
from tether.client import Profile, TetherClient, ids, load_profile

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """Set by the root group from the environment (the CLI is an entry point; libraries get values passed)."""

    config_dir: Path
    debug: bool = False

    def profile(self) -> Profile:
        return load_profile(self.config_dir)

    def client(self) -> TetherClient:
        return TetherClient(self.profile())


def state() -> CliState:
    found = click.get_current_context().find_object(CliState)
    if found is None:
        raise RuntimeError("the tether root group sets the CLI state")
    return found


def output_options(func: F) -> F:
    """``-o/--output`` and ``--query`` on a command, passed on as ``output`` and ``query``."""
    func = click.option(
        "--query", default=None, metavar="JMESPATH", help="JMESPath query applied to the result (as in az)."
    )(func)
    func = click.option(
        "-o", "--output", type=click.Choice(FORMATS), default="json", show_default=True, help="Output format."
    )(func)
    return func


def print_result(data: Any, *, output: str, query: str | None) -> None:
    emit(data, output=output, query=query)


def wait_with_progress(client: TetherClient, operation_url: str, *, message: str) -> None:
    """Wait for an operation, showing a spinner on a terminal and nothing extra when piped."""
    console = Console(stderr=True)
    if not sys.stderr.isatty():
        client.wait(operation_url)
        return
    with console.status(message) as status:
        client.wait(operation_url, on_poll=lambda s: status.update(f"{message} ({s.get('status')})"))


def put_and_wait(
    client: TetherClient, resource_id: str, body: dict[str, Any], *, no_wait: bool, message: str
) -> dict[str, Any] | None:
    """PUT ``body``; with ``no_wait`` return None at once (az prints nothing then), else wait for its
    operation, if any, and return the resource as it is at the end."""
    answer, operation = client.put(resource_id, body)
    if no_wait:
        return None
    if operation:
        wait_with_progress(client, operation, message=message)
        answer = client.get(resource_id)
    return answer


def list_in_scope(client: TetherClient, resource_group: str | None, provider_type: str) -> list[dict[str, Any]]:
    """Every resource of ``provider_type`` (``Microsoft.X/things``) in the group, or in the whole subscription."""
    scope = ids.group_or_subscription(client.profile, resource_group)
    return list(client.list(f"{scope}/providers/{provider_type}"))


def confirm_or_abort(yes: bool, prompt: str) -> None:
    """az's confirmation: ``--yes`` skips it; without a terminal it is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{prompt} Add --yes to confirm when not running interactively.")
    click.confirm(f"{prompt} Are you sure you want to perform this operation?", abort=True)


def with_client(func: F) -> F:
    """Give the command a ``client`` argument, closed when the command ends."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with state().client() as client:
            return func(*args, client=client, **kwargs)

    return wrapper  # type: ignore[return-value]
