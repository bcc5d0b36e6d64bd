"""``tether server``: run the control plane (the one CLI module that imports the server side)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import click


@click.command("server")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the CA, keys, SQLite store and bootstrap.json (created if missing).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8443,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTPS port (0: any free port; bootstrap.json records it).",
)
@click.option(
    "--blob-port",
    default=8444,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTPS port of the blob endpoint (https://host:PORT/<account>/...; 0: any free port).",
)
@click.option(
    "--db-url",
    help="SQLAlchemy async URL of the store, e.g. postgresql+asyncpg://u:p@host/db (default: SQLite in the data dir).",
)
@click.option(
    "--public-url",
    help="URL clients reach the server at (a load balancer's, with several servers); it names the token issuer "
    "and audience, so every server behind it must be given the same (default: https://HOST:PORT).",
)
@click.option(
    "--reuse-port",
    is_flag=True,
    help="Share HOST:PORT with other tether servers on this machine (SO_REUSEPORT); see docs/operations.md.",
)
@click.option(
    "--internal-port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTPS port the other replicas forward connected-cluster calls to (0: any free port).",
)
@click.option(
    "--internal-url",
    help="URL the other replicas reach --internal-port at (default: https://HOST:PORT); see docs/operations.md.",
)
def server(
    data_dir: Path,
    host: str,
    port: int,
    blob_port: int,
    db_url: str | None,
    public_url: str | None,
    reuse_port: bool,
    internal_port: int,
    internal_url: str | None,
) -> None:
    """Run the Tether control plane over HTTPS until interrupted.

    On first start it creates a CA (DIR/ca.pem), a tenant, a subscription and an admin service
    principal, written to DIR/bootstrap.json; `tether login --bootstrap DIR` uses them.
    """
    # Imported here so that every other command starts without loading the server stack.
    from tether.api.server import serve
    from tether.errors import StartupError
    from tether.settings import ServerSettings, Settings, StorageSettings

    logging.getLogger("tether").setLevel(logging.INFO)
    settings = Settings(
        server=ServerSettings(
            data_dir=data_dir,
            host=host,
            port=port,
            db_url=db_url,
            public_url=public_url,
            reuse_port=reuse_port,
            internal_port=internal_port,
            internal_url=internal_url,
        ),
        storage=StorageSettings(blob_port=blob_port),
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(settings))
    except StartupError as e:
        raise click.ClickException(e.message) from e
