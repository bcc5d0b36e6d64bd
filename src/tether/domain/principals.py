"""Principals of the directory and who is calling.

``Principal`` (a service principal, a managed identity or a user) and ``ClientSecret`` (a secret's
metadata; its hash never leaves the store) are what the store returns for its ``principals`` and
``client_secrets`` tables: immutable snapshots, changed only through store functions. ``Caller`` is the
authenticated principal behind a request or a reconciler step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
"""The audience of the tokens exchanged for an identity's (federated credentials, workload identity)."""


class PrincipalKind(StrEnum):
    SERVICE_PRINCIPAL = "ServicePrincipal"
    USER_ASSIGNED_IDENTITY = "UserAssignedIdentity"
    SYSTEM_ASSIGNED_IDENTITY = "SystemAssignedIdentity"
    USER = "User"


@dataclass(frozen=True)
class Caller:
    """An authenticated principal. ``object_id`` is what role assignments name."""

    tenant_id: str
    object_id: str
    app_id: str
    kind: PrincipalKind
    display_name: str = ""

    def describe(self) -> str:
        """How errors name the caller, in Azure's words: client id and object id."""
        return f"client '{self.app_id}' with object id '{self.object_id}'"


@dataclass(frozen=True, slots=True)
class Principal:
    """A directory object that can hold roles: service principal, managed identity or user.

    ``resource_key`` is the (lower-case) id of the resource a managed identity belongs to; None otherwise.
    """

    object_id: str
    tenant_id: str
    kind: PrincipalKind
    app_id: str
    display_name: str
    resource_key: str | None
    created_at: dt.datetime

    @property
    def display_name_key(self) -> str:
        """The display name as filters compare it (case-insensitive)."""
        return self.display_name.lower()

    def as_caller(self) -> Caller:
        return Caller(
            tenant_id=self.tenant_id,
            object_id=self.object_id,
            app_id=self.app_id,
            kind=self.kind,
            display_name=self.display_name,
        )


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """A client secret's metadata (Graph's ``passwordCredential``); ``key_id`` is Graph's ``keyId``."""

    key_id: str
    principal_id: str
    hint: str
    created_at: dt.datetime
    expires_at: dt.datetime
