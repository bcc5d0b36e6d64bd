"""Wire models of ML workspaces (``Microsoft.MachineLearningServices/workspaces``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.models.workspaces import WorkspaceRecord
from tether.protocol.arm import StrictModel


class IdentityRequest(StrictModel):
    type: str = Field(min_length=1, max_length=64)
    userAssignedIdentities: dict[str, dict[str, Any] | None] | None = None  # noqa: N815


class WorkspaceProperties(BaseModel):
    """Workspace properties Tether understands; others the SDK sends (e.g. storage ids) are kept as given."""

    model_config = ConfigDict(extra="allow")

    friendlyName: str | None = Field(None, max_length=256)  # noqa: N815
    description: str | None = Field(None, max_length=2048)
    primaryUserAssignedIdentity: str | None = None  # noqa: N815


class CreateWorkspaceRequest(StrictModel):
    location: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")
    tags: dict[str, str] = Field(default_factory=dict)
    identity: IdentityRequest | None = None
    sku: dict[str, Any] | None = None
    kind: str | None = None
    properties: WorkspaceProperties = Field(default_factory=WorkspaceProperties)


_TYPED_FIELDS = set(WorkspaceRecord.model_fields)


def workspace_properties(
    record: WorkspaceRecord, *, provisioning_state: str, discovery_url: str | None = None
) -> dict[str, Any]:
    """The workspace's ARM ``properties``: its typed stored fields that are set (stored keys the model does
    not know are never answered), its state and, when the server has a public URL, ``discoveryUrl``."""
    properties = record.model_dump(mode="json", by_alias=True, exclude_none=True, include=_TYPED_FIELDS)
    properties["provisioningState"] = provisioning_state
    if discovery_url:
        properties["discoveryUrl"] = discovery_url
    return properties
