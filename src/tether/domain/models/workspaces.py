"""An ML workspace's stored state (``Microsoft.MachineLearningServices/workspaces``): ``WorkspaceRecord``.

Everything a workspace stores in ``properties`` is public: its id (``workspaceId``, a UUID made at
creation, which also names its default blob container), the descriptive fields the caller may change
(``friendlyName``, ``description``), the user-assigned identity it was created with and its default
storage account's id. It has no private part: its identity lives in the resource's ``identity`` column
and its principal in the principals table, not here.

On disk the layout is the model's dump by alias with unset (None) fields left out, as the provider wrote
it before the model existed. Keys the model does not know are kept through a read and a write (a later
version may have added them) but never answered.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import ConfigDict, Field

from tether.domain.models.stored import StoredModel


class WorkspaceRecord(StoredModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")

    friendly_name: str | None = Field(None, alias="friendlyName")
    description: str | None = None
    workspace_id: str = Field(alias="workspaceId")
    #: The user-assigned identity named at creation (None for a system-assigned workspace).
    primary_user_assigned_identity: str | None = Field(None, alias="primaryUserAssignedIdentity")
    #: The default storage account's id (None when the server runs without storage).
    storage_account: str | None = Field(None, alias="storageAccount")

    def to_stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def described(self, *, friendly_name: str | None, description: str | None) -> Self:
        """The record with the descriptive fields that were sent changed (None: left as it is, so a PUT or
        PATCH that leaves one out cannot clear it)."""
        sent = {"friendly_name": friendly_name, "description": description}
        return self.model_copy(update={field: value for field, value in sent.items() if value is not None})
