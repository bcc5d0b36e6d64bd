"""Wire models of storage accounts (``Microsoft.Storage/storageAccounts``) and their blob containers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.models.storage import StorageAccountRecord
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


def storage_account_properties(record: StorageAccountRecord, *, provisioning_state: str) -> dict[str, Any]:
    """A storage account's ARM ``properties``: everything it stores, and its state."""
    return {**record.model_dump(mode="json", by_alias=True), "provisioningState": provisioning_state}


def blob_container_properties(found: dict[str, Any]) -> dict[str, Any]:
    """A blob container's ARM ``properties`` from the blob engine's ``get_container`` answer (containers are
    stored by the engine, not as resources): its metadata and time, the rest constant."""
    return {
        "publicAccess": "None",
        "lastModifiedTime": found.get("lastModified"),
        "metadata": found.get("metadata") or {},
        "leaseStatus": "Unlocked",
        "leaseState": "Available",
        "hasImmutabilityPolicy": False,
        "hasLegalHold": False,
    }
