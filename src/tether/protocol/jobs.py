"""Wire models of jobs (``Microsoft.MachineLearningServices/workspaces/jobs``), command jobs only.

The body follows Azure ML's REST shape where it has one (``jobType``, ``command``, ``computeId``,
``resources``, ``environmentVariables``, ``displayName``, ``experimentName``); the container image
is Tether's ``environment.image`` (registered environments are not supported yet).
"""

from __future__ import annotations

from pydantic import Field

from tether.protocol.arm import StrictModel


class JobEnvironment(StrictModel):
    image: str = Field(min_length=1, max_length=1024, pattern=r"^[^\s]+$")


class JobResources(StrictModel):
    instanceType: str | None = Field(None, max_length=253)  # noqa: N815
    instanceCount: int = Field(1, ge=1, le=1024)  # noqa: N815


class JobProperties(StrictModel):
    jobType: str = Field("Command", max_length=32)  # noqa: N815
    command: str = Field(min_length=1, max_length=65536)
    environment: JobEnvironment | None = None
    environmentId: str | None = Field(None, max_length=1024)  # noqa: N815
    computeId: str = Field(min_length=1, max_length=1024)  # noqa: N815
    resources: JobResources = Field(default_factory=JobResources)
    environmentVariables: dict[str, str] = Field(default_factory=dict, max_length=256)  # noqa: N815
    displayName: str | None = Field(None, max_length=256)  # noqa: N815
    experimentName: str | None = Field(None, max_length=256)  # noqa: N815
    description: str | None = Field(None, max_length=2048)
    tags: dict[str, str] = Field(default_factory=dict, max_length=64)


class CreateJobRequest(StrictModel):
    properties: JobProperties
