"""Wire models of resource groups (``Microsoft.Resources/resourceGroups``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tether.domain.models.resource_groups import ResourceGroupRecord
from tether.protocol.arm import StrictModel


class CreateResourceGroupRequest(StrictModel):
    location: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    managedBy: str | None = None  # noqa: N815


def resource_group_properties(record: ResourceGroupRecord, *, provisioning_state: str) -> dict[str, Any]:
    """A resource group's ARM ``properties``: only its state (it stores nothing that is answered)."""
    del record  # a group answers none of its stored keys
    return {"provisioningState": provisioning_state}
