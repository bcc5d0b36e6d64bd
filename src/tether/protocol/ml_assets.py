"""Wire models of Azure ML assets Tether keeps: environments and code, containers and versions.

The shapes are azure-ai-ml's (``EnvironmentVersion``, ``CodeVersion``, ``PendingUploadRequestDto``;
docs/sdk-jobs.md). Read-only fields an answer carries (``provisioningState``, ``environmentType``,
``latestVersion``...) may come back in a PUT and are ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tether.domain.models.assets import AssetContainerRecord, VersionRecord
from tether.protocol.arm import StrictModel


class AssetCommon(StrictModel):
    description: str | None = Field(None, max_length=2048)
    tags: dict[str, str] | None = Field(None, max_length=64)
    # ResourceBase says strings; the SDK sends hash_version as a number.
    properties: dict[str, str | int | float | bool] | None = Field(None, max_length=256)
    isAnonymous: bool | None = None  # noqa: N815
    isArchived: bool | None = None  # noqa: N815
    provisioningState: str | None = None  # noqa: N815 - read-only, ignored


class EnvironmentVersionProperties(AssetCommon):
    image: str | None = Field(None, min_length=1, max_length=1024, pattern=r"^[^\s]+$")
    build: dict[str, Any] | None = None
    condaFile: str | None = Field(None, max_length=1_000_000)  # noqa: N815
    osType: str | None = Field(None, pattern=r"^(?i:linux|windows)$")  # noqa: N815
    inferenceConfig: dict[str, Any] | None = None  # noqa: N815
    autoRebuild: str | None = Field(None, max_length=32)  # noqa: N815
    stage: str | None = Field(None, max_length=64)
    intellectualProperty: dict[str, Any] | None = None  # noqa: N815
    environmentType: str | None = None  # noqa: N815 - read-only, ignored


class EnvironmentVersionRequest(StrictModel):
    properties: EnvironmentVersionProperties


class CodeVersionProperties(AssetCommon):
    codeUri: str | None = Field(None, max_length=2048)  # noqa: N815


class CodeVersionRequest(StrictModel):
    properties: CodeVersionProperties


class ContainerProperties(AssetCommon):
    latestVersion: str | None = None  # noqa: N815 - read-only, ignored
    nextVersion: str | None = None  # noqa: N815 - read-only, ignored


class ContainerRequest(StrictModel):
    properties: ContainerProperties = Field(default_factory=ContainerProperties)


class PendingUploadRequest(StrictModel):
    pendingUploadType: str = Field("TemporaryBlobReference", pattern=r"^(?i:TemporaryBlobReference|None)$")  # noqa: N815
    pendingUploadId: str | None = Field(None, max_length=128)  # noqa: N815


def asset_properties(record: AssetContainerRecord | VersionRecord, *, provisioning_state: str) -> dict[str, Any]:
    """An asset container's or version's ARM ``properties``: what it stores except its private keys
    (``_snapshot``: every stored key starting with ``_``), and its state."""
    shown = {key: value for key, value in record.to_stored().items() if not key.startswith("_")}
    return {**shown, "provisioningState": provisioning_state}
