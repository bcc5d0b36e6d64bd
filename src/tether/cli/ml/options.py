"""Options every ``tether ml`` command that works inside a workspace takes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def workspace_options(func: F) -> F:
    """``-g/--resource-group`` and ``-w/--workspace-name``, as az ml names them."""
    func = click.option("-w", "--workspace-name", "workspace_name", required=True, help="Name of the workspace.")(func)
    func = click.option(
        "-g", "--resource-group", "resource_group", required=True, help="Resource group of the workspace."
    )(func)
    return func
