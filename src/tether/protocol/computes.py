"""Wire models of compute targets (``Microsoft.MachineLearningServices/workspaces/computes``), Kubernetes kind.

The request is what ``azure-ai-ml`` sends (REFERENCE.md); unknown inner properties are accepted
and ignored, since the SDK sends fields (``computeLocation``, ``description``...) Tether keeps but
does not act on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.protocol.arm import StrictModel
from tether.protocol.workspaces import IdentityRequest


class KubernetesProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    namespace: str | None = Field(None, max_length=253)
    defaultInstanceType: str | None = Field(None, max_length=253)  # noqa: N815
    instanceTypes: dict[str, Any] | None = None  # noqa: N815


class ComputeProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    computeType: str = Field(min_length=1, max_length=64)  # noqa: N815
    resourceId: str | None = Field(None, max_length=1024)  # noqa: N815
    computeLocation: str | None = Field(None, max_length=64)  # noqa: N815
    description: str | None = Field(None, max_length=2048)
    properties: KubernetesProperties | None = None


class CreateComputeRequest(StrictModel):
    location: str | None = Field(None, max_length=64)
    tags: dict[str, str] | None = None
    identity: IdentityRequest | None = None
    sku: dict[str, Any] | None = None
    properties: ComputeProperties
