"""``tether identity ...``: user-assigned managed identities and their federated credentials, as ``az identity``.

An identity is a resource and a principal: grant it roles with
``tether role assignment create --assignee <principalId> ...``. Results are flattened as az prints
them (``principalId``, ``clientId``, ``tenantId`` at the top level).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tether.cli.context import confirm_or_abort, list_in_scope, output_options, print_result, with_client
from tether.cli.groups import parse_tags
from tether.cli.roles.options import resource_group_of, split_values
from tether.client import TetherClient, ids
from tether.client.views import read_view
from tether.domain.principals import TOKEN_EXCHANGE_AUDIENCE
from tether.protocol.answers import ResourceAnswer

_GROUP = click.option("-g", "--resource-group", "resource_group", required=True, help="Resource group of the identity.")
_NAME = click.option("-n", "--name", "name", required=True, help="Name of the identity.")
_IDENTITY_NAME = click.option(
    "--identity-name", "identity_name", required=True, help="Name of the user-assigned identity."
)
_FIC_NAME = click.option("-n", "--name", "name", required=True, help="Name of the federated identity credential.")


def flat_identity(resource: dict[str, Any]) -> dict[str, Any]:
    props = read_view(ResourceAnswer, resource, what="identity").properties
    return {
        "id": resource.get("id"),
        "name": resource.get("name"),
        "type": resource.get("type"),
        "location": resource.get("location"),
        "resourceGroup": resource_group_of(str(resource.get("id") or "")),
        "tags": resource.get("tags") or {},
        "clientId": props.get("clientId"),
        "principalId": props.get("principalId"),
        "tenantId": props.get("tenantId"),
    }


def flat_credential(resource: dict[str, Any]) -> dict[str, Any]:
    props = read_view(ResourceAnswer, resource, what="federated identity credential").properties
    return {
        "id": resource.get("id"),
        "name": resource.get("name"),
        "type": resource.get("type"),
        "resourceGroup": resource_group_of(str(resource.get("id") or "")),
        "issuer": props.get("issuer"),
        "subject": props.get("subject"),
        "audiences": props.get("audiences"),
    }


@click.group("identity")
def identity() -> None:
    """Manage user-assigned managed identities (identities for workspaces and compute targets)."""


@identity.command("create")
@_NAME
@_GROUP
@click.option("-l", "--location", help="Location (default: the resource group's).")
@click.option("--tags", multiple=True, metavar="KEY=VALUE", help="Tags, space-separated KEY=VALUE (repeatable).")
@output_options
@with_client
def create(
    name: str,
    resource_group: str,
    location: str | None,
    tags: tuple[str, ...],
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Create a user-assigned identity, or update its tags if it exists.

    The result's principalId is the identity's object id (for role assignments), clientId its app id.
    """
    body: dict[str, Any] = {"tags": parse_tags(tags)}
    if location:
        body["location"] = location
    answer, _ = client.put(ids.user_assigned_identity(client.profile, resource_group, name), body)
    print_result(flat_identity(answer), output=output, query=query)


@identity.command("show")
@_NAME
@_GROUP
@output_options
@with_client
def show(name: str, resource_group: str, output: str, query: str | None, client: TetherClient) -> None:
    """Show a user-assigned identity."""
    answer = client.get(ids.user_assigned_identity(client.profile, resource_group, name))
    print_result(flat_identity(answer), output=output, query=query)


@identity.command("list")
@click.option("-g", "--resource-group", "resource_group", help="Only this resource group's identities.")
@output_options
@with_client
def list_(resource_group: str | None, output: str, query: str | None, client: TetherClient) -> None:
    """List user-assigned identities of a resource group, or of the whole subscription."""
    items = list_in_scope(client, resource_group, "Microsoft.ManagedIdentity/userAssignedIdentities")
    print_result([flat_identity(i) for i in items], output=output, query=query)


@identity.command("delete")
@_NAME
@_GROUP
@with_client
def delete(name: str, resource_group: str, client: TetherClient) -> None:
    """Delete a user-assigned identity with its federated credentials and role assignments."""
    client.delete(ids.user_assigned_identity(client.profile, resource_group, name))


@identity.group("federated-credential")
def federated_credential() -> None:
    """Manage federated identity credentials: trust tokens of an external issuer (e.g. a Kubernetes
    service account) to get the identity's tokens."""


def _audiences(values: tuple[str, ...]) -> list[str]:
    return split_values(values) or [TOKEN_EXCHANGE_AUDIENCE]


def _ca_pem(path: Path | None) -> str | None:
    if path is None:
        return None
    text = path.read_text()
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise click.BadParameter(
            f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", param_hint="--issuer-ca-file"
        )
    return text


def _put_credential(
    client: TetherClient, resource_id: str, issuer: str, subject: str, audiences: list[str], ca_pem: str | None
) -> dict[str, Any]:
    properties: dict[str, Any] = {"issuer": issuer, "subject": subject, "audiences": audiences}
    if ca_pem:
        properties["issuerCaCertificate"] = ca_pem
    answer, _ = client.put(resource_id, {"properties": properties})
    return flat_credential(answer)


_ISSUER_CA = click.option(
    "--issuer-ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file of the CA that signed the issuer's TLS certificate, when no public CA did (e.g. a cluster's "
    "API server). Tether's addition.",
)


@federated_credential.command("create")
@_FIC_NAME
@_IDENTITY_NAME
@_GROUP
@click.option("--issuer", required=True, help="The token issuer URL (https), exactly as in the tokens' iss claim.")
@click.option(
    "--subject",
    required=True,
    help="The tokens' sub claim, e.g. system:serviceaccount:<namespace>:<service account>.",
)
@click.option(
    "--audiences",
    multiple=True,
    metavar="AUDIENCE",
    help=f"The tokens' aud claim (one value; default {TOKEN_EXCHANGE_AUDIENCE}).",
)
@_ISSUER_CA
@output_options
@with_client
def fic_create(
    name: str,
    identity_name: str,
    resource_group: str,
    issuer: str,
    subject: str,
    audiences: tuple[str, ...],
    issuer_ca_file: Path | None,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Create a federated credential (or replace one of the same name) on a user-assigned identity."""
    resource_id = ids.federated_credential(client.profile, resource_group, identity_name, name)
    created = _put_credential(client, resource_id, issuer, subject, _audiences(audiences), _ca_pem(issuer_ca_file))
    print_result(created, output=output, query=query)


@federated_credential.command("update")
@_FIC_NAME
@_IDENTITY_NAME
@_GROUP
@click.option("--issuer", help="New token issuer URL (https).")
@click.option("--subject", help="New subject (the tokens' sub claim).")
@click.option("--audiences", multiple=True, metavar="AUDIENCE", help="New audience (the tokens' aud claim).")
@_ISSUER_CA
@output_options
@with_client
def fic_update(
    name: str,
    identity_name: str,
    resource_group: str,
    issuer: str | None,
    subject: str | None,
    audiences: tuple[str, ...],
    issuer_ca_file: Path | None,
    output: str,
    query: str | None,
    client: TetherClient,
) -> None:
    """Change an existing federated credential; what is not given stays."""
    resource_id = ids.federated_credential(client.profile, resource_group, identity_name, name)
    current = flat_credential(client.get(resource_id))
    updated = _put_credential(
        client,
        resource_id,
        issuer or str(current["issuer"]),
        subject or str(current["subject"]),
        split_values(audiences) or list(current["audiences"] or [TOKEN_EXCHANGE_AUDIENCE]),
        _ca_pem(issuer_ca_file),
    )
    print_result(updated, output=output, query=query)


@federated_credential.command("show")
@_FIC_NAME
@_IDENTITY_NAME
@_GROUP
@output_options
@with_client
def fic_show(
    name: str, identity_name: str, resource_group: str, output: str, query: str | None, client: TetherClient
) -> None:
    """Show a federated credential."""
    answer = client.get(ids.federated_credential(client.profile, resource_group, identity_name, name))
    print_result(flat_credential(answer), output=output, query=query)


@federated_credential.command("list")
@_IDENTITY_NAME
@_GROUP
@output_options
@with_client
def fic_list(identity_name: str, resource_group: str, output: str, query: str | None, client: TetherClient) -> None:
    """List the federated credentials of a user-assigned identity."""
    parent = ids.user_assigned_identity(client.profile, resource_group, identity_name)
    items = client.list(f"{parent}/federatedIdentityCredentials")
    print_result([flat_credential(i) for i in items], output=output, query=query)


@federated_credential.command("delete")
@_FIC_NAME
@_IDENTITY_NAME
@_GROUP
@click.option("-y", "--yes", is_flag=True, help="Do not prompt for confirmation.")
@with_client
def fic_delete(name: str, identity_name: str, resource_group: str, yes: bool, client: TetherClient) -> None:
    """Delete a federated credential: tokens of its issuer and subject no longer get the identity's tokens."""
    confirm_or_abort(yes, f"Federated credential '{name}' of identity '{identity_name}' will be deleted.")
    client.delete(ids.federated_credential(client.profile, resource_group, identity_name, name))
