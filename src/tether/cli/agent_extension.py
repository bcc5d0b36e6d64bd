"""``tether agent extension``: run the ML extension operator (heartbeat, status report; later, jobs).

Attached to the ``tether agent`` group by ``tether.cli.agent``; also runnable on its own as
``python -m tether.cli.agent_extension``. In a cluster the Deployment runs it with ``--in-cluster``; on
a simulated-node cluster it runs as a local process with ``--kubeconfig`` for the operator's own
ServiceAccount (``tether.kube.extension_install.operator_kubeconfig`` makes one).

Hazards: the operator module (and lightkube) is imported only when the command runs, to keep the CLI's
start fast; SIGTERM/SIGINT stop it cleanly (exit 0) after releasing its heartbeat.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import click

from tether.errors import TetherError


@click.command("extension")
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Kubeconfig of the operator's ServiceAccount (local-process mode).",
)
@click.option("--in-cluster", is_flag=True, help="Use the pod's ServiceAccount (when run by the Deployment).")
@click.option("--namespace", default="azureml", show_default=True, help="The extension's release namespace.")
@click.option("--interval", type=click.FloatRange(min=0.5), default=5.0, show_default=True, help="Seconds per pass.")
@click.option("--once", is_flag=True, help="One pass, print the status report as JSON; exit 1 if a check fails.")
def extension(kubeconfig: Path | None, in_cluster: bool, namespace: str, interval: float, once: bool) -> None:
    """Run the ML extension operator: heartbeat and status report every --interval seconds until SIGTERM."""
    if (kubeconfig is None) == (not in_cluster):
        raise click.UsageError("Give exactly one of --kubeconfig FILE or --in-cluster.")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tether.agents.extension").setLevel(logging.INFO)
    from tether.agents.extension import run_operator

    try:
        report = asyncio.run(
            run_operator(
                kubeconfig_path=kubeconfig, in_cluster=in_cluster, namespace=namespace, interval_s=interval, once=once
            )
        )
    except TetherError as e:
        raise click.ClickException(str(e)) from e
    if once and report is not None:
        click.echo(json.dumps(report.to_data(), indent=2))
        if not report.checks_pass:
            raise SystemExit(1)


if __name__ == "__main__":
    extension(prog_name="tether agent extension")
