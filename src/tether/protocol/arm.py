"""ARM wire shapes shared by server and client: envelopes, errors, operation status, lists.

Request models forbid unknown top-level fields so that a typo is an error that names the field
instead of a silently ignored setting; ``properties`` are validated by each resource type's model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    code: str
    message: str
    target: str | None = None
    details: list[ErrorBody] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class SystemData(BaseModel):
    createdBy: str  # noqa: N815 - ARM's field names
    createdByType: str  # noqa: N815
    createdAt: str  # noqa: N815
    lastModifiedBy: str  # noqa: N815
    lastModifiedByType: str  # noqa: N815
    lastModifiedAt: str  # noqa: N815


class ResourceResponse(BaseModel):
    """The envelope every resource is answered in."""

    id: str
    name: str
    type: str
    location: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    systemData: SystemData | None = None  # noqa: N815


class ResourceListResponse(BaseModel):
    value: list[dict[str, Any]]
    nextLink: str | None = None  # noqa: N815


class OperationStatusResponse(BaseModel):
    id: str
    name: str
    status: str
    startTime: str  # noqa: N815
    endTime: str | None = None  # noqa: N815
    error: ErrorBody | None = None


def with_properties(answer: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``answer`` (a resource as answered) with these members of its ``properties`` set."""
    return {**answer, "properties": {**answer.get("properties", {}), **changes}}


class StrictModel(BaseModel):
    """Base of request bodies: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
