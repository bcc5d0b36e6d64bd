"""A compute target's stored state (``Microsoft.MachineLearningServices/workspaces/computes``): ``ComputeRecord``.

Three typed parts:

- ``spec`` (``ComputeSpec``): what the attach asked and Tether keeps: the cluster's id, the namespace,
  ``computeLocation`` and ``description`` (the only one a re-PUT changes). Public.
- ``state`` (``ComputeState``): what the last successful attach found in the cluster (``AttachedCluster``:
  instance types, the extension's principal and release train) and the errors of the last failed
  operation. Public.
- ``private`` (``ComputePrivate``): the identity asked for (the reconciler binds it) and the instance types
  the attach body defined (created in the cluster at attach). Never answered.

On disk the layout predates this model and is kept (no migration): ``resourceId``, ``computeLocation``,
``description``, ``identityRequest``, ``requestedInstanceTypes`` and ``provisioningErrors`` at the top
level; the namespace and, once attached, ``instanceTypes``, ``defaultInstanceType``,
``extensionPrincipalId`` and ``extensionInstanceReleaseTrain`` under ``properties`` (the shape of the
answer's inner ``properties``). ``clusters.py`` finds the computes on a cluster by the top-level
``resourceId``. Rows written before ``identityRequest.block``, ``requestedInstanceTypes`` or
``provisioningErrors`` existed read with none; ``to_stored`` always writes those keys (``null`` when
unset), where the old code left ``provisioningErrors`` out until an operation ended: both read the same.
Unknown keys are validation errors, never silently dropped (Tether never stored any).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import ConfigDict, Field

from tether.domain.models.stored import StoredModel

#: The instance type jobs get when they name none: the cluster's built-in one (kube.extension_names).
DEFAULT_INSTANCE_TYPE = "defaultinstancetype"


class _Part(StoredModel):
    """A part of the stored compute: a key Tether never wrote is an error that names it."""

    model_config = ConfigDict(extra="forbid")


class ComputeSpec(_Part):
    """The attach as asked: which cluster and namespace (both fixed once attached), and what was said about it."""

    resource_id: str = Field(alias="resourceId")
    namespace: str = "default"
    compute_location: str | None = Field(None, alias="computeLocation")
    description: str | None = None


class AttachedCluster(_Part):
    """What a successful attach recorded from the cluster."""

    #: The instance types the cluster offers (name → the answered shape); None when it reported none.
    instance_types: dict[str, Any] | None = Field(None, alias="instanceTypes")
    default_instance_type: str = Field(DEFAULT_INSTANCE_TYPE, alias="defaultInstanceType")
    extension_principal_id: str | None = Field(None, alias="extensionPrincipalId")
    extension_instance_release_train: str | None = Field("stable", alias="extensionInstanceReleaseTrain")


class ComputeState(_Part):
    attached: AttachedCluster | None = None
    #: ARM's ``provisioningErrors``: ``[{"error": {code, message, target, details}}]`` of the last failure.
    provisioning_errors: list[dict[str, Any]] | None = Field(None, alias="provisioningErrors")


class RequestedIdentity(_Part):
    """The identity a PUT asked for; the reconciler makes the compute's identity this."""

    #: ``None``, ``SystemAssigned`` or ``UserAssigned`` (``identity.managed.parse_identity_type``).
    type: str = "None"
    #: The user-assigned identities named (only the first is used, S8).
    ids: list[str] = Field(default_factory=list)
    #: For ``UserAssigned``: the identity block to answer, with the principal checked when the PUT came in.
    block: dict[str, Any] | None = None


class ComputePrivate(_Part):
    identity_request: RequestedIdentity = Field(default_factory=RequestedIdentity, alias="identityRequest")
    #: The attach body's instance types (validated, answered shape); created in the cluster at attach.
    requested_instance_types: dict[str, Any] | None = Field(None, alias="requestedInstanceTypes")


_ATTACHED_KEYS = tuple(f.alias or name for name, f in AttachedCluster.model_fields.items())
_STATE_KEYS = ("provisioningErrors",)
_PRIVATE_KEYS = tuple(f.alias or name for name, f in ComputePrivate.model_fields.items())


class ComputeRecord(StoredModel):
    spec: ComputeSpec
    state: ComputeState = Field(default_factory=ComputeState)
    private: ComputePrivate = Field(default_factory=ComputePrivate)

    @classmethod
    def from_stored(cls, properties: dict[str, Any]) -> Self:
        top = dict(properties)
        inner = dict(top.pop("properties", None) or {})
        private = {k: top.pop(k) for k in _PRIVATE_KEYS if k in top}
        state = {k: top.pop(k) for k in _STATE_KEYS if k in top}
        attached = {k: inner.pop(k) for k in _ATTACHED_KEYS if k in inner}
        if private.get("identityRequest") is None:
            private.pop("identityRequest", None)
        return cls(
            spec=ComputeSpec.model_validate({**top, **inner}),
            state=ComputeState(
                attached=AttachedCluster.model_validate(attached) if attached else None,
                provisioning_errors=state.get("provisioningErrors"),
            ),
            private=ComputePrivate.model_validate(private),
        )

    def to_stored(self) -> dict[str, Any]:
        inner: dict[str, Any] = {"namespace": self.spec.namespace}
        if self.state.attached is not None:
            inner.update(self.state.attached.to_stored())
        return {
            "resourceId": self.spec.resource_id,
            "computeLocation": self.spec.compute_location,
            "description": self.spec.description,
            "properties": inner,
            **self.private.to_stored(),
            "provisioningErrors": self.state.provisioning_errors,
        }
