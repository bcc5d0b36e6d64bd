"""Wire models of ML workspaces (``Microsoft.MachineLearningServices/workspaces``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
