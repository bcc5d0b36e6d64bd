"""The ``tether`` command: the root group, error reporting, and the entry point.

Errors are printed as az prints them (``ERROR: (Code) message``) with exit code 1 and no traceback;
``--debug`` anywhere on the command line shows the traceback too. Usage errors exit with 2.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

import click

from tether.cli.account import account, login, logout
from tether.cli.acr import acr
from tether.cli.ad import ad
from tether.cli.ad_users import user
from tether.cli.agent import agent
from tether.cli.agent_extension import extension
from tether.cli.aks import aks
from tether.cli.connectedk8s import connectedk8s
from tether.cli.context import CliState
from tether.cli.demo import demo
from tether.cli.groups import group
from tether.cli.identities import identity
from tether.cli.k8s_extension import k8s_extension
from tether.cli.local_cluster import local_cluster
from tether.cli.ml import ml
from tether.cli.roles import role
from tether.cli.server import server
from tether.cli.storage import storage
from tether.client import ClientError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="tether", prog_name="tether")
def cli() -> None:
    """Tether: attach Kubernetes clusters to ML workspaces as compute targets.

    Commands mirror az's (group, ml workspace, ml compute, ...). Start a server with
    `tether server --data-dir DIR`, log in with `tether login --bootstrap DIR`, then
    use the commands below. Add --debug to any command to see tracebacks.
    """


agent.add_command(extension)
ad.add_command(user)
for command in (
    login,
    logout,
    account,
    group,
    ml,
    ad,
    identity,
    role,
    aks,
    connectedk8s,
    k8s_extension,
    server,
    local_cluster,
    agent,
    demo,
    storage,
    acr,
):
    cli.add_command(command)


def _report(error: ClientError) -> None:
    click.echo(f"ERROR: {error}", err=True)
    for detail in error.details:
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
        click.echo(f"  - {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config_dir = Path(os.environ.get("TETHER_CONFIG_DIR") or Path.home() / ".tether")
        cli.main(
            args=args,
            prog_name="tether",
            standalone_mode=False,
            obj=CliState(config_dir=config_dir, debug=debug),
        )
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except ClientError as e:
        if debug:
            traceback.print_exc()
        _report(e)
        sys.exit(1)
    except Exception as e:
        if debug:
            traceback.print_exc()
        click.echo(f"ERROR: The command failed unexpectedly: {type(e).__name__}: {e}", err=True)
        click.echo("Run it again with --debug to see the traceback.", err=True)
        sys.exit(1)
