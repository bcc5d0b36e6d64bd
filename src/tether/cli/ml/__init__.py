"""``tether ml``: Azure ML's command tree (workspaces now; computes and jobs as they land)."""

from __future__ import annotations

import click

from tether.cli.ml.computes import compute
from tether.cli.ml.jobs import job
from tether.cli.ml.workspaces import workspace


@click.group("ml")
def ml() -> None:
    """Manage ML workspaces, compute targets and jobs."""


ml.add_command(workspace)
ml.add_command(compute)
ml.add_command(job)
