"""``tether demo`` (``make demo``): the seed scenario end to end on this machine (see ``scenario``)."""

from __future__ import annotations

import click


@click.command("demo")
def demo() -> None:
    """Run the seed scenario end to end on this machine and print a report.

    A server on SQLite, two real local clusters (managed and connected), the ML extension, the seed's
    attach commands, multi-attach, a job with the compute's identity, and a job on a missing namespace.
    Everything it starts is stopped at the end, also on Ctrl-C.
    """
    # Imported here: the scenario loads Kubernetes and JWT libraries other commands do not need.
    from tether.cli.demo.scenario import run_demo

    run_demo()
