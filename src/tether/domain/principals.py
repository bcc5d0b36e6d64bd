"""Who is calling: the authenticated principal behind a request or a reconciler step."""

from __future__ import annotations

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
