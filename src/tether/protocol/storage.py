"""Wire models of storage accounts (``Microsoft.Storage/storageAccounts``) and their blob containers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.protocol.arm import StrictModel


class StorageAccountProperties(BaseModel):
    """Properties clients send (access tier, TLS version, ...) are accepted; Tether keeps none of them."""

    model_config = ConfigDict(extra="allow")


class CreateStorageAccountRequest(StrictModel):
    location: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")
    tags: dict[str, str] = Field(default_factory=dict)
    sku: dict[str, Any] | None = None
    kind: str | None = Field(None, max_length=64)
    identity: dict[str, Any] | None = None
    properties: StorageAccountProperties = Field(default_factory=StorageAccountProperties)


class ContainerProperties(StrictModel):
    publicAccess: str | None = Field(None, pattern=r"^(?i:none)$")  # noqa: N815
    metadata: dict[str, str] | None = None


class CreateContainerRequest(StrictModel):
    properties: ContainerProperties = Field(default_factory=ContainerProperties)
