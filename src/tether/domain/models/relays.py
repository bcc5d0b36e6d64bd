"""Relay resources' stored state (``Microsoft.Relay``): ``RelayNamespaceRecord``, ``HybridConnectionRecord``,
``RelayAuthorizationRuleRecord``.

All public and constant: they are written once, with a connected cluster's ML extension, and only say what
Azure's would (Tether's relay is its own tunnel server, not Azure Relay: ``serviceBusEndpoint`` names no
real host). The layout on disk is each model's dump by alias, in field order, as before the models existed.
"""

from __future__ import annotations

from pydantic import Field

from tether.domain import resource_types as rt
from tether.domain.models.stored import StoredModel


class RelayNamespaceRecord(StoredModel):
    service_bus_endpoint: str = Field(alias="serviceBusEndpoint")
    status: str = "Active"


class HybridConnectionRecord(StoredModel):
    requires_client_authorization: bool = Field(True, alias="requiresClientAuthorization")
    listener_count: int = Field(1, alias="listenerCount")


class RelayAuthorizationRuleRecord(StoredModel):
    rights: list[str]


RelayRecord = RelayNamespaceRecord | HybridConnectionRecord | RelayAuthorizationRuleRecord

_RECORDS: dict[str, type[RelayRecord]] = {
    rt.RELAY_NAMESPACES.lower(): RelayNamespaceRecord,
    rt.HYBRID_CONNECTIONS.lower(): HybridConnectionRecord,
    rt.RELAY_AUTHORIZATION_RULES.lower(): RelayAuthorizationRuleRecord,
}


def relay_record_type(full_type: str) -> type[RelayRecord]:
    """The stored model of a relay resource type (``KeyError`` for a type that is not a relay's)."""
    return _RECORDS[full_type.lower()]
