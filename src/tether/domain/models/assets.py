"""Azure ML assets' stored state: ``AssetContainerRecord`` (``workspaces/environments``, ``workspaces/codes``),
``EnvironmentVersionRecord`` and ``CodeVersionRecord`` (their ``versions``).

A container holds the asset's descriptive fields and, once a version is written, ``latestVersion`` (what
``azureml:<name>@latest`` resolves to). A version holds the same descriptive fields, which may change, and
its content, which never does: an environment's image, a code version's ``codeUri``. A code version also
keeps, private under ``_snapshot``, where its files are (account, container, prefix: ``CodeSnapshot``, what
a job's pods download); it is never answered.

The layout on disk is each model's dump by alias, as the provider wrote it before the models existed:
optional fields the SDK did not send are absent, not null (``exclude_if`` None), except a container's
``description``, always present. Keys the models do not know are kept through a read and a write, and
answered as they always were (every key not starting with ``_``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from tether.domain import resource_types as rt
from tether.domain.models.jobs import CodeSnapshot
from tether.domain.models.stored import StoredModel

AssetPropertyValue = str | int | float | bool


def _absent(value: object) -> bool:
    return value is None


class AssetContainerRecord(StoredModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")

    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, AssetPropertyValue] = Field(default_factory=dict)
    is_archived: bool = Field(False, alias="isArchived")
    is_anonymous: bool | None = Field(None, alias="isAnonymous", exclude_if=_absent)
    #: The newest version's name, once one is written.
    latest_version: str | None = Field(None, alias="latestVersion", exclude_if=_absent)


class AssetVersionRecord(StoredModel):
    """What every version stores: whether it is archived or anonymous, and the descriptive fields sent."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")

    is_archived: bool = Field(False, alias="isArchived")
    is_anonymous: bool = Field(False, alias="isAnonymous")
    description: str | None = Field(None, exclude_if=_absent)
    tags: dict[str, str] | None = Field(None, exclude_if=_absent)
    properties: dict[str, AssetPropertyValue] | None = Field(None, exclude_if=_absent)


class EnvironmentVersionRecord(AssetVersionRecord):
    #: The container image the job's pods run.
    image: str
    os_type: str = Field("Linux", alias="osType")
    inference_config: dict[str, Any] | None = Field(None, alias="inferenceConfig", exclude_if=_absent)
    auto_rebuild: str | None = Field(None, alias="autoRebuild", exclude_if=_absent)
    stage: str | None = Field(None, exclude_if=_absent)
    intellectual_property: dict[str, Any] | None = Field(None, alias="intellectualProperty", exclude_if=_absent)
    environment_type: str = Field("UserCreated", alias="environmentType")


class CodeVersionRecord(AssetVersionRecord):
    #: ``<blob URL>/<account>/<container>/<prefix>``, as the SDK sent it.
    code_uri: str = Field(alias="codeUri")
    #: Private: where the files are, parsed from ``codeUri`` when the version was written.
    snapshot: CodeSnapshot = Field(alias="_snapshot")


VersionRecord = EnvironmentVersionRecord | CodeVersionRecord

_VERSIONS: dict[str, type[VersionRecord]] = {
    rt.ENVIRONMENT_VERSIONS.lower(): EnvironmentVersionRecord,
    rt.CODE_VERSIONS.lower(): CodeVersionRecord,
}


def version_record_type(full_type: str) -> type[VersionRecord]:
    """The stored model of an asset version type (``KeyError`` for another type)."""
    return _VERSIONS[full_type.lower()]


#: Descriptive fields of a version that a later PUT may change; everything else is its content.
VERSION_MUTABLE = ("description", "tags", "properties", "isArchived")
