"""``tether ad user create|show|list``: people who sign in (the Studio), as ``az ad user``.

Creating users needs a directory admin (a principal allowed to assign roles on a subscription of the
tenant); showing and listing them is open to every principal. Passwords are never printed back.
"""

from __future__ import annotations

import click

from tether.cli.context import output_options, print_result, with_client
from tether.client import TetherClient

USERS = "/v1.0/users"


@click.group("user")
def user() -> None:
    """Manage users: people who sign in to the Studio with a user principal name and a password."""


@user.command("create")
@click.option("--display-name", required=True, help="The user's name as shown to others.")
@click.option("--user-principal-name", required=True, help="The sign-in name, alias@domain.")
@click.option("--password", required=True, help="The sign-in password (8 or more characters); stored hashed only.")
@output_options
@with_client
def create(
    display_name: str, user_principal_name: str, password: str, output: str, query: str | None, client: TetherClient
) -> None:
    """Create a user who can sign in to the Studio (give them roles with tether role assignment create)."""
    body = {
        "accountEnabled": True,
        "displayName": display_name,
        "userPrincipalName": user_principal_name,
        "passwordProfile": {"password": password},
    }
    print_result(client.request("POST", USERS, json=body).json(), output=output, query=query)


@user.command("show")
@click.option("--id", "id_text", required=True, help="The user's object id or user principal name.")
@output_options
@with_client
def show(id_text: str, output: str, query: str | None, client: TetherClient) -> None:
    """Show a user."""
    print_result(client.request("GET", f"{USERS}/{id_text}").json(), output=output, query=query)


@user.command("list")
@output_options
@with_client
def list_users(output: str, query: str | None, client: TetherClient) -> None:
    """List the tenant's users."""
    print_result(client.request("GET", USERS).json()["value"], output=output, query=query)
