"""Wire shape of ``Microsoft.ContainerRegistry/registries`` create requests (az acr create's body)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CreateRegistryRequest(BaseModel):
    # az sends more properties (adminUserEnabled, policies...): accepted, and those Tether has not are ignored.
    model_config = ConfigDict(extra="allow")

    location: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")
    tags: dict[str, str] = Field(default_factory=dict)
    sku: dict[str, Any] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
