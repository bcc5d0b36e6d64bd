"""A job's stored state (``Microsoft.MachineLearningServices/workspaces/jobs``): ``JobRecord``.

Three typed parts:

- ``spec``: the command job as the SDK sent it (Azure ML's REST shape, api-version 2025-01-01-preview,
  see docs/sdk-jobs.md), with the outputs' default locations and the full compute id filled in. It is
  also the request's ``properties`` (``tether.protocol.jobs`` builds the request envelope on it), so its
  limits are the request's. Fields Tether acts on are typed; ``distribution``, ``queueSettings``,
  ``resources.properties`` and the inputs' and outputs' extra fields are kept as sent and answered back.
  Only ``isArchived``, ``tags``, ``description``, ``displayName`` and ``properties`` ever change.
- ``state``: what Tether writes as the job runs (status, timeline, error, cancel request, pods); public.
- ``private``: what only the server reads: the resolved run (image, command, code snapshot, timeout) and,
  once dispatched, where its TetherJob is (cluster, namespace, name). Never answered.

On disk the layout predates this model and is kept (no migration): spec and state keys side by side at
the top level, the run under ``_run``, the placement as top-level ``clusterJobName``, ``namespace`` and
``clusterId``. ``from_stored``/``to_stored`` translate; jobs stored before ``_run`` existed read with no run.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.jobs import JobStatus, TimelineEntry
from tether.domain.models.stored import StoredModel


class _Strict(BaseModel):
    """Spec parts: unknown fields are errors that name the field, not silently ignored settings."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class JobEnvironment(_Strict):
    image: str = Field(min_length=1, max_length=1024, pattern=r"^[^\s]+$")


class JobResources(_Strict):
    instanceType: str | None = Field(None, max_length=253)  # noqa: N815 - Azure ML's field names
    instanceCount: int = Field(1, ge=1, le=1024)  # noqa: N815
    properties: dict[str, Any] | None = None
    shmSize: str | None = Field(None, max_length=32)  # noqa: N815
    dockerArgs: str | None = Field(None, max_length=4096)  # noqa: N815
    dockerArgsList: list[str] | None = None  # noqa: N815
    locations: list[str] | None = None
    maxInstanceCount: int | None = None  # noqa: N815


class JobLimits(_Strict):
    jobLimitsType: str = Field("Command", max_length=32)  # noqa: N815
    #: ISO 8601 duration (``PT1H30M``), as the SDK sends ``limits.timeout`` seconds.
    timeout: str | None = Field(None, max_length=64)


class JobIdentity(_Strict):
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


class JobSpec(_Strict):
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

    def stored(self) -> dict[str, Any]:
        """The spec as stored and answered: the fields that are set (None ones left out)."""
        return self.model_dump(mode="json", exclude_none=True)


#: What a PUT of an existing job may change (``jobs.archive`` PUTs the job back with ``isArchived``).
MUTABLE_SPEC_FIELDS = ("isArchived", "tags", "description", "displayName", "properties")


class JobError(BaseModel):
    """Why a job failed, as ARM's error body (``details`` as the failing step gave them)."""

    model_config = ConfigDict(frozen=True)
    code: str
    message: str
    target: str | None = Field(None, exclude_if=lambda target: target is None)
    details: list[dict[str, Any]] | None = Field(None, exclude_if=lambda details: details is None)


class JobState(StoredModel):
    """What Tether writes into a job as it runs; all public."""

    status: JobStatus = JobStatus.QUEUED
    timeline: list[TimelineEntry] = Field(default_factory=list)
    error: JobError | None = None
    cancel_requested: bool = Field(False, alias="cancelRequested")
    #: The pods as the cluster's operator reports them, once it has.
    pods: list[dict[str, Any]] | None = Field(None, exclude_if=lambda pods: pods is None)


class CodeSnapshot(StoredModel):
    """Where a code version's files are: a blob container and a prefix in a storage account."""

    account: str
    container: str
    prefix: str


class JobRun(StoredModel):
    """What the pods run, resolved when the job was created (``tether.providers.job_inputs``)."""

    image: str
    #: The command with ``${{outputs.*}}`` and literal ``${{inputs.*}}`` filled in.
    command: str
    code: CodeSnapshot | None = None
    timeout_seconds: int | None = Field(None, alias="timeoutSeconds")


class JobPlacement(StoredModel):
    """Where the job's TetherJob is, set when it is dispatched."""

    cluster_job_name: str = Field(alias="clusterJobName")
    namespace: str
    cluster_id: str = Field(alias="clusterId")


class JobPrivate(StoredModel):
    """The server's own state of a job; never answered."""

    run: JobRun | None = None
    placement: JobPlacement | None = None


_RUN_KEY = "_run"
_PLACEMENT_KEYS = tuple(f.alias or name for name, f in JobPlacement.model_fields.items())
_STATE_KEYS = tuple(f.alias or name for name, f in JobState.model_fields.items())


class JobRecord(StoredModel):
    spec: JobSpec
    state: JobState = Field(default_factory=JobState)
    private: JobPrivate = Field(default_factory=JobPrivate)

    @property
    def dispatched(self) -> bool:
        return self.private.placement is not None

    @classmethod
    def from_stored(cls, properties: dict[str, Any]) -> Self:
        spec = dict(properties)
        run = spec.pop(_RUN_KEY, None)
        placement = {k: spec.pop(k) for k in _PLACEMENT_KEYS if k in spec}
        state = {k: spec.pop(k) for k in _STATE_KEYS if k in spec}
        return cls(
            spec=JobSpec.model_validate(spec),
            state=JobState.from_stored(state),
            private=JobPrivate(
                run=JobRun.from_stored(run) if run else None,
                placement=JobPlacement.from_stored(placement) if placement.get("clusterJobName") else None,
            ),
        )

    def to_stored(self) -> dict[str, Any]:
        stored = {**self.spec.stored(), **self.state.to_stored()}
        if self.private.run is not None:
            stored[_RUN_KEY] = self.private.run.to_stored()
        if self.private.placement is not None:
            stored.update(self.private.placement.to_stored())
        return stored
