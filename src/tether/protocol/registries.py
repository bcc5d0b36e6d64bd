"""Wire shape of ``Microsoft.ContainerRegistry/registries`` create requests (az acr create's body)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.models.registries import RegistryRecord


class CreateRegistryRequest(BaseModel):
    # az sends more properties (adminUserEnabled, policies...): accepted, and those Tether has not are ignored.
    model_config = ConfigDict(extra="allow")

    location: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")
    tags: dict[str, str] = Field(default_factory=dict)
    sku: dict[str, Any] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


def registry_properties(record: RegistryRecord, *, creation_date: str, provisioning_state: str) -> dict[str, Any]:
    """A registry's ARM ``properties``: its login server and constant settings, when it was made, its state."""
    return {
        **record.model_dump(mode="json", by_alias=True),
        "creationDate": creation_date,
        "provisioningState": provisioning_state,
    }
