"""Wire models of jobs (``Microsoft.MachineLearningServices/workspaces/jobs``), command jobs only.

The body is Azure ML's REST shape as azure-ai-ml sends it (api-version 2025-01-01-preview, see
docs/sdk-jobs.md): ``jobType``, ``command``, ``environmentId`` (or Tether's own ``environment.image``),
``codeId``, ``computeId``, ``resources``, ``inputs``, ``outputs``, ``limits``, ``identity``,
``distribution``, ``queueSettings``... Fields Tether acts on are typed; the others (``distribution``,
``queueSettings``, ``notificationSetting``, ``resources.properties``...) are kept as sent and answered
back unchanged. ``OUTPUT_FIELDS`` are what Tether writes into a job: a body read from Tether and PUT back
(``jobs.archive``) carries them, and they are ignored on the way in.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.protocol.arm import StrictModel

#: Fields of a job's ``properties`` that Tether computes; a PUT may carry them back, they are not read.
OUTPUT_FIELDS = ("status", "timeline", "error", "cancelRequested", "pods", "services", "parameters", "exitCode")


class JobEnvironment(StrictModel):
    image: str = Field(min_length=1, max_length=1024, pattern=r"^[^\s]+$")


class JobResources(StrictModel):
    instanceType: str | None = Field(None, max_length=253)  # noqa: N815
    instanceCount: int = Field(1, ge=1, le=1024)  # noqa: N815
    properties: dict[str, Any] | None = None
    shmSize: str | None = Field(None, max_length=32)  # noqa: N815
    dockerArgs: str | None = Field(None, max_length=4096)  # noqa: N815
    dockerArgsList: list[str] | None = None  # noqa: N815
    locations: list[str] | None = None
    maxInstanceCount: int | None = None  # noqa: N815


class JobLimits(StrictModel):
    jobLimitsType: str = Field("Command", max_length=32)  # noqa: N815
    #: ISO 8601 duration (``PT1H30M``), as the SDK sends ``limits.timeout`` seconds.
    timeout: str | None = Field(None, max_length=64)


class JobIdentity(StrictModel):
    identityType: str = Field(max_length=32)  # noqa: N815
    clientId: str | None = Field(None, max_length=128)  # noqa: N815
    objectId: str | None = Field(None, max_length=128)  # noqa: N815
    resourceId: str | None = Field(None, max_length=1024)  # noqa: N815


class JobOutput(BaseModel):
    """One output; ``uri_folder`` ones are uploaded from the pod to the default datastore."""

    model_config = ConfigDict(extra="allow")
    jobOutputType: str = Field(max_length=64)  # noqa: N815
    mode: str | None = Field(None, max_length=64)
    uri: str | None = Field(None, max_length=2048)
    description: str | None = Field(None, max_length=2048)


class JobInput(BaseModel):
    """One input; ``literal`` ones are substituted into the command (``${{inputs.<name>}}``)."""

    model_config = ConfigDict(extra="allow")
    jobInputType: str = Field(max_length=64)  # noqa: N815
    value: str | None = Field(None, max_length=65536)
    uri: str | None = Field(None, max_length=2048)


class JobProperties(StrictModel):
    jobType: str = Field("Command", max_length=32)  # noqa: N815
    command: str = Field(min_length=1, max_length=65536)
    environment: JobEnvironment | None = None
    environmentId: str | None = Field(None, max_length=1024)  # noqa: N815
    codeId: str | None = Field(None, max_length=1024)  # noqa: N815
    computeId: str = Field(min_length=1, max_length=1024)  # noqa: N815
    resources: JobResources = Field(default_factory=JobResources)
    environmentVariables: dict[str, str] = Field(default_factory=dict, max_length=256)  # noqa: N815
    displayName: str | None = Field(None, max_length=256)  # noqa: N815
    experimentName: str | None = Field(None, max_length=256)  # noqa: N815
    description: str | None = Field(None, max_length=2048)
    tags: dict[str, str] = Field(default_factory=dict, max_length=64)
    properties: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=256)
    isArchived: bool = False  # noqa: N815
    inputs: dict[str, JobInput] = Field(default_factory=dict, max_length=256)
    outputs: dict[str, JobOutput] = Field(default_factory=dict, max_length=256)
    limits: JobLimits | None = None
    identity: JobIdentity | None = None
    distribution: dict[str, Any] | None = None
    queueSettings: dict[str, Any] | None = None  # noqa: N815
    notificationSetting: dict[str, Any] | None = None  # noqa: N815
    componentId: str | None = Field(None, max_length=1024)  # noqa: N815


class CreateJobRequest(BaseModel):
    """The envelope: ``properties``; the read-only envelope fields a GET answered may come back and are ignored."""

    model_config = ConfigDict(extra="forbid")
    properties: JobProperties
    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    location: str | None = None
    tags: dict[str, str] | None = None
    systemData: dict[str, Any] | None = None  # noqa: N815
