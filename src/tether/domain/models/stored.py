"""The base of every resource type's stored model, and how it becomes the ``properties`` JSON and back.

``to_stored`` gives the JSON the store writes, ``from_stored`` reads it back (validated: a row that does
not fit its model is an error, never a half-read dict). By default the layout is the model's own dump
by alias; a type whose layout on disk predates its model overrides both so that existing databases read
unchanged (jobs: ``tether.domain.models.jobs``).

Models are frozen: a change builds a new model (``model_copy(update=...)``) and the store writes it whole,
so an in-place change that the JSON column would silently drop cannot be written.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class StoredModel(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def from_stored(cls, properties: dict[str, Any]) -> Self:
        """The model from a row's ``properties`` as the store holds them."""
        return cls.model_validate(properties)

    def to_stored(self) -> dict[str, Any]:
        """The ``properties`` JSON the store writes for this model."""
        return self.model_dump(mode="json", by_alias=True)
