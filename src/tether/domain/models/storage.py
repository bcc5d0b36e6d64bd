"""A storage account's stored state (``Microsoft.Storage/storageAccounts``): ``StorageAccountRecord``.

All public, and fixed at creation: the account's blob endpoint (Tether's blob URL and the account's name)
and the constant facts ARM clients read (status, access tier, shared-key access). The account's keys are
sealed in ``store.cluster_secrets``, never here. Blob containers store nothing in the resources table:
they are the blob engine's own (``tether.providers.blob_containers``).

The layout on disk is the model's dump by alias, in field order, as the provider wrote it before the
model existed.
"""

from __future__ import annotations

from pydantic import Field

from tether.domain.models.stored import StoredModel


class PrimaryEndpoints(StoredModel):
    #: ``<blob URL>/<account>/``: the account's blob endpoint on Tether's blob server.
    blob: str


class StorageAccountRecord(StoredModel):
    primary_endpoints: PrimaryEndpoints = Field(alias="primaryEndpoints")
    primary_location: str = Field(alias="primaryLocation")
    status_of_primary: str = Field("available", alias="statusOfPrimary")
    supports_https_traffic_only: bool = Field(True, alias="supportsHttpsTrafficOnly")
    allow_shared_key_access: bool = Field(True, alias="allowSharedKeyAccess")
    access_tier: str = Field("Hot", alias="accessTier")
