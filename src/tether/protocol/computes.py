"""Wire models of compute targets (``Microsoft.MachineLearningServices/workspaces/computes``), Kubernetes kind.

The request is what ``azure-ai-ml`` sends (REFERENCE.md); unknown inner properties are accepted
and ignored, since the SDK sends fields (``computeLocation``, ``description``...) Tether keeps but
does not act on. ``compute_properties`` is the one place a compute's public ARM ``properties`` are
derived from its stored state (``tether.domain.models.computes.ComputeRecord``): its spec and state,
never the private part (the identity asked for, the attach body's instance types).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.models.computes import DEFAULT_INSTANCE_TYPE, ComputeRecord
from tether.protocol.arm import StrictModel, with_properties
from tether.protocol.workspaces import IdentityRequest


class KubernetesProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    namespace: str | None = Field(None, max_length=253)
    defaultInstanceType: str | None = Field(None, max_length=253)  # noqa: N815
    instanceTypes: dict[str, Any] | None = None  # noqa: N815


class ComputeProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    computeType: str = Field(min_length=1, max_length=64)  # noqa: N815
    resourceId: str | None = Field(None, max_length=1024)  # noqa: N815
    computeLocation: str | None = Field(None, max_length=64)  # noqa: N815
    description: str | None = Field(None, max_length=2048)
    properties: KubernetesProperties | None = None


class CreateComputeRequest(StrictModel):
    location: str | None = Field(None, max_length=64)
    tags: dict[str, str] | None = None
    identity: IdentityRequest | None = None
    sku: dict[str, Any] | None = None
    properties: ComputeProperties


#: What a compute offers before an attach has recorded the cluster's instance types.
DEFAULT_INSTANCE_TYPES = {
    DEFAULT_INSTANCE_TYPE: {
        "nodeSelector": None,
        "resources": {"requests": {"cpu": "100m", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    }
}


def offered_instance_types(record: ComputeRecord) -> dict[str, Any]:
    """The instance types the compute answers: those its attach recorded, else the built-in default."""
    attached = record.state.attached
    return (attached.instance_types if attached else None) or DEFAULT_INSTANCE_TYPES


def with_extension_health(answer: dict[str, Any], health: dict[str, Any]) -> dict[str, Any]:
    """A copy of the compute's ``answer`` whose settings (``properties.properties``) say the ML extension's
    ``health`` as last checked: what jobs on this compute would wait for."""
    settings = {**answer["properties"]["properties"], "extensionHealth": health}
    return with_properties(answer, properties=settings)


def compute_properties(
    record: ComputeRecord, *, location: str | None, provisioning_state: str, created_on: str, modified_on: str
) -> dict[str, Any]:
    """The compute's ARM ``properties``; ``location`` (the workspace's) answers when no ``computeLocation`` was sent."""
    attached = record.state.attached
    return {
        "computeType": "Kubernetes",
        "computeLocation": record.spec.compute_location or location,
        "description": record.spec.description,
        "resourceId": record.spec.resource_id,
        "provisioningState": provisioning_state,
        "isAttachedCompute": True,
        "createdOn": created_on,
        "modifiedOn": modified_on,
        "provisioningErrors": record.state.provisioning_errors,
        "disableLocalAuth": False,
        "properties": {
            "namespace": record.spec.namespace,
            "defaultInstanceType": (attached.default_instance_type if attached else None) or DEFAULT_INSTANCE_TYPE,
            "instanceTypes": offered_instance_types(record),
            "extensionInstanceReleaseTrain": attached.extension_instance_release_train if attached else "stable",
            "extensionPrincipalId": attached.extension_principal_id if attached else None,
            "vcName": None,
            # Secrets are never returned (REFERENCE.md); Tether has none to return anyway.
            "relayConnectionString": None,
            "serviceBusConnectionString": None,
        },
    }
