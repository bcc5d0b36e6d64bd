"""A cluster extension's stored state (``Microsoft.KubernetesConfiguration/extensions``): ``ClusterExtensionRecord``.

Three typed parts, as a job's (decision 0022):

- ``spec``: what the PUT asked for, normalised by the provider (the one extension type Tether installs,
  scope ``cluster`` in release namespace ``azureml``, the release train defaulted). Public, except that the
  protected settings' values are write-only: ``tether.protocol.extensions`` answers their names only.
- ``state``: what the install and the health monitor write (installed version, operator mode, health,
  instance types). Public.
- ``private``: whether a delete was asked with ``forceDelete`` (remove the record without touching the
  cluster). Never answered.

On disk the layout predates this model and is kept (no migration): spec and state keys side by side at the
top level, the force flag as ``_forceDelete`` (written only when set). A state key is on disk exactly when it
was written (``exclude_unset``): before the install finishes there is no ``installedVersion``; a health
verdict from an unreachable cluster has no ``checks``, while a full one keeps ``heartbeatAgeSeconds: null``.

Hazard: the protected settings are stored as sent, like the other settings (``properties`` is not sealed).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import Field

from tether.domain.models.stored import StoredModel


class ClusterScope(StoredModel):
    release_namespace: str = Field(alias="releaseNamespace")


class ExtensionScope(StoredModel):
    cluster: ClusterScope


class ExtensionSpec(StoredModel):
    """The extension as asked for (all keys always stored)."""

    extension_type: str = Field(alias="extensionType")
    auto_upgrade_minor_version: bool = Field(True, alias="autoUpgradeMinorVersion")
    release_train: str = Field("stable", alias="releaseTrain")
    #: The version asked for (None: the release train's current one).
    version: str | None = None
    scope: ExtensionScope
    configuration_settings: dict[str, str] = Field(default_factory=dict, alias="configurationSettings")
    #: The protected settings' names, each with "": their values are checked at PUT and never stored.
    configuration_protected_settings: dict[str, str] = Field(
        default_factory=dict, alias="configurationProtectedSettings"
    )


class HealthStatus(StrEnum):
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    #: Not known yet (no heartbeat read so far) or not knowable now (the cluster cannot be reached).
    UNKNOWN = "Unknown"


class HealthCheck(StoredModel):
    """One of the operator's own checks, as it reports it."""

    name: str
    ok: bool
    message: str | None = None


class ExtensionHealthReport(StoredModel):
    """The last verdict on the operator; only the keys a verdict wrote are stored (see the module)."""

    status: HealthStatus
    reason: str | None = None
    heartbeat_age_seconds: float | None = Field(None, alias="heartbeatAgeSeconds")
    #: The operator replica holding the leader lease.
    operator: str | None = None
    training_enabled: bool | None = Field(None, alias="trainingEnabled")
    checks: list[HealthCheck] | None = None
    #: RFC 3339, when the verdict was made.
    checked_at: str | None = Field(None, alias="checkedAt")


class ExtensionState(StoredModel):
    """What the install and the health monitor write; public."""

    installed_version: str | None = Field(None, alias="installedVersion")
    operator_mode: str | None = Field(None, alias="operatorMode")
    health: ExtensionHealthReport | None = None
    #: The cluster's instance types as the operator reports them, each in the ARM shape of a compute's
    #: ``properties.properties.instanceTypes[<name>]`` (``tether.kube.extension_status.InstanceTypeInfo``).
    instance_types: dict[str, dict[str, Any]] | None = Field(None, alias="instanceTypes")

    def to_stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class ExtensionPrivate(StoredModel):
    """The server's own state of an extension; never answered."""

    force_delete: bool = False


_FORCE_DELETE_KEY = "_forceDelete"
_STATE_KEYS = tuple(f.alias or name for name, f in ExtensionState.model_fields.items())


class ClusterExtensionRecord(StoredModel):
    spec: ExtensionSpec
    state: ExtensionState = Field(default_factory=ExtensionState)
    private: ExtensionPrivate = Field(default_factory=ExtensionPrivate)

    @classmethod
    def from_stored(cls, properties: dict[str, Any]) -> Self:
        spec = dict(properties)
        force_delete = bool(spec.pop(_FORCE_DELETE_KEY, False))
        state = {k: spec.pop(k) for k in _STATE_KEYS if k in spec}
        return cls(
            spec=ExtensionSpec.from_stored(spec),
            state=ExtensionState.from_stored(state),
            private=ExtensionPrivate(force_delete=force_delete),
        )

    def to_stored(self) -> dict[str, Any]:
        stored = {**self.spec.to_stored(), **self.state.to_stored()}
        if self.private.force_delete:
            stored[_FORCE_DELETE_KEY] = True
        return stored
