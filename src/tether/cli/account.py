"""``tether login``, ``tether logout`` and ``tether account show|list``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tether.cli.context import output_options, print_result, state
from tether.client import ClientError, Profile, TetherClient, profile_from_bootstrap, save_profile
from tether.client.profile import profile_path


@click.command()
@click.option(
    "--bootstrap",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Server data directory: log in as its admin principal (reads DIR/bootstrap.json).",
)
@click.option("--server", help="Server URL, e.g. https://127.0.0.1:8443 (with --service-principal).")
@click.option("--service-principal", is_flag=True, help="Log in as a service principal (-u app id, -p secret).")
@click.option("-u", "--username", help="The service principal's app (client) id.")
@click.option("-p", "--password", help="The service principal's secret.")
@click.option("-t", "--tenant", help="The tenant id.")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    help="CA bundle that signed the server's certificate (DIR/ca.pem).",
)
@click.option("--subscription", help="Subscription to use by default (first one of the tenant if omitted).")
@output_options
def login(
    data_dir: Path | None,
    server: str | None,
    service_principal: bool,
    username: str | None,
    password: str | None,
    tenant: str | None,
    ca_file: str | None,
    subscription: str | None,
    output: str,
    query: str | None,
) -> None:
    """Log in to a Tether server and remember it in $TETHER_CONFIG_DIR (default ~/.tether)."""
    if data_dir is not None:
        profile = profile_from_bootstrap(data_dir)
    else:
        missing = [
            n for n, v in (("--server", server), ("-u", username), ("-p", password), ("--tenant", tenant)) if not v
        ]
        if not service_principal or missing:
            raise click.UsageError(
                "Use --bootstrap DIR, or --server URL --service-principal -u ID -p SECRET --tenant T "
                f"[--ca-file FILE] (missing: {', '.join(missing) or '--service-principal'})."
            )
        if not (server and username and password and tenant):  # narrowed for the type checker; checked above
            raise click.UsageError("missing login options")
        profile = Profile(
            server=server.rstrip("/"),
            ca_file=ca_file,
            tenant_id=tenant,
            subscription_id=subscription or "",
            client_id=username,
            client_secret=password,
        )
    with TetherClient(profile) as client:
        client.access_token()  # proves the credentials before saving them
        if not profile.subscription_id:
            subscriptions = list(client.list("/subscriptions"))
            if not subscriptions:
                raise ClientError("The principal can reach no subscription.", code="NoSubscriptionFound")
            profile = profile.model_copy(update={"subscription_id": subscriptions[0]["subscriptionId"]})
    save_profile(state().config_dir, profile)
    print_result([_account(profile)], output=output, query=query)


@click.command()
def logout() -> None:
    """Forget the saved login."""
    path = profile_path(state().config_dir)
    path.unlink(missing_ok=True)


def _account(profile: Profile) -> dict[str, Any]:
    return {
        "environmentName": "Tether",
        "id": profile.subscription_id,
        "isDefault": True,
        "name": profile.subscription_id,
        "state": "Enabled",
        "tenantId": profile.tenant_id,
        "user": {"name": profile.client_id, "type": "servicePrincipal"},
        "server": profile.server,
    }


@click.group()
def account() -> None:
    """Show the logged-in account and its subscriptions."""


@account.command("show")
@output_options
def account_show(output: str, query: str | None) -> None:
    """The current subscription, tenant, principal and server."""
    print_result(_account(state().profile()), output=output, query=query)


@account.command("list")
@output_options
def account_list(output: str, query: str | None) -> None:
    """Subscriptions the logged-in principal can reach."""
    with state().client() as client:
        print_result(list(client.list("/subscriptions")), output=output, query=query)
