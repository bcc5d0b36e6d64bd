"""``tether agent``: the in-cluster agents' entry points (``connect`` now; ``extension`` joins later).

``tether agent connect`` runs the connect agent until SIGTERM/SIGINT: it dials the relay, tunnels the
control plane's Kubernetes API requests to this cluster's API server, and reconnects with back-off.
The credential is read from a file (re-read on every reconnect), never from the command line, where
other users could see it. State changes are logged at INFO on stderr (``--debug`` for more).
Heavy imports (lightkube, websockets) happen inside the command so ``tether --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from tether.errors import TetherError


@click.group("agent")
def agent() -> None:
    """Agents that run inside an attached cluster."""


def _check_relay_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not value.startswith(("wss://", "ws://")):
        raise click.BadParameter("must be a WebSocket URL: wss://<server>/relay/connect")
    return value


@agent.command("connect")
@click.option(
    "--relay-url",
    required=True,
    callback=_check_relay_url,
    help="The control plane's relay endpoint, e.g. wss://tether.example.com/relay/connect.",
)
@click.option("--cluster-id", required=True, help="Resource id of the connected cluster this agent serves.")
@click.option(
    "--credential-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the cluster's relay credential (mode 600; re-read on every reconnect).",
)
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Kubeconfig of the cluster's API server (its current context is used).",
)
@click.option("--in-cluster", is_flag=True, help="Use the pod's service account to reach the API server.")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CA bundle that verifies the relay's TLS certificate (default: the system's trust store).",
)
@click.option("--proxy", default=None, help="HTTP(S) proxy URL for the relay connection (default: none).")
def connect(
    relay_url: str,
    cluster_id: str,
    credential_file: Path,
    kubeconfig: Path | None,
    in_cluster: bool,
    ca_file: Path | None,
    proxy: str | None,
) -> None:
    """Tunnel this cluster's Kubernetes API to the control plane through an outbound WebSocket."""
    if in_cluster == (kubeconfig is not None):
        raise click.UsageError("pass exactly one of --kubeconfig FILE and --in-cluster")
    from tether.agents.connect import ConnectAgent, credential_from_file

    logger = logging.getLogger("tether.agents.connect")
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    credential = credential_from_file(credential_file)
    try:
        credential()  # fail fast on a missing or exposed file; later reads pick up rotations
        agent = ConnectAgent(
            relay_url=relay_url,
            cluster_key=cluster_id,
            credential=credential,
            upstream=kubeconfig,
            ca_file=ca_file,
            proxy=proxy,
        )
    except TetherError as e:
        raise click.ClickException(e.message) from e

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await agent.run(stop)

    try:
        asyncio.run(main())
    except TetherError as e:
        raise click.ClickException(e.message) from e
