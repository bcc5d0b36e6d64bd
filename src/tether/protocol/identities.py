"""Wire models of user-assigned managed identities and their federated identity credentials."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tether.domain.models.identities import UserAssignedIdentityRecord
from tether.domain.principals import TOKEN_EXCHANGE_AUDIENCE
from tether.protocol.arm import StrictModel


class CreateIdentityRequest(StrictModel):
    location: str | None = Field(None, max_length=64)
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] | None = None


class FederatedCredentialProperties(StrictModel):
    issuer: str = Field(min_length=8, max_length=1024, pattern=r"^https://")
    subject: str = Field(min_length=1, max_length=1024)
    audiences: list[str] = Field(default_factory=lambda: [TOKEN_EXCHANGE_AUDIENCE], min_length=1, max_length=1)
    # Tether's addition: the CA bundle (PEM) that verifies the issuer's TLS certificate, for issuers
    # such as a cluster's API server whose certificate no public CA signs.
    issuerCaCertificate: str | None = Field(None, max_length=65536)  # noqa: N815


class CreateFederatedCredentialRequest(StrictModel):
    properties: FederatedCredentialProperties


def identity_properties(record: UserAssignedIdentityRecord) -> dict[str, Any]:
    """A user-assigned identity's ARM ``properties``: its tenant, principal and client ids."""
    return record.model_dump(mode="json", by_alias=True)
