"""A resource group's stored state (``Microsoft.Resources/resourceGroups``): ``ResourceGroupRecord``.

A group stores nothing in ``properties`` (``{}`` on disk): its location and tags are the resource's own
columns and its only answered property, ``provisioningState``, is the row's state. The model exists so that
the group is read and written like every other type; keys a later version may add are kept, never answered.
"""

from __future__ import annotations

from pydantic import ConfigDict

from tether.domain.models.stored import StoredModel


class ResourceGroupRecord(StoredModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")
