"""Wire models of clusters: managed (``Microsoft.ContainerService/managedClusters``) and connected
(``Microsoft.Kubernetes/connectedClusters``), and the ``properties`` ARM answers for each, derived from
their stored models (``tether.domain.models.clusters``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.models.clusters import ConnectedClusterRecord, ManagedClusterRecord
from tether.protocol.arm import StrictModel


class ManagedClusterProperties(BaseModel):
    """Registering an existing cluster: Tether's ``kubeconfig`` (write-only) instead of AKS's node pools.

    Other AKS properties a client sends are accepted and ignored: Tether does not create clusters.
    """

    model_config = ConfigDict(extra="allow")

    kubeconfig: str | None = Field(None, min_length=1, max_length=262_144)
    kubeconfigContext: str | None = Field(None, max_length=256)  # noqa: N815


class CreateManagedClusterRequest(StrictModel):
    location: str | None = Field(None, max_length=64)
    tags: dict[str, str] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    sku: dict[str, Any] | None = None
    properties: ManagedClusterProperties = Field(default_factory=ManagedClusterProperties)


class ConnectedClusterProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    agentPublicKeyCertificate: str | None = Field(None, max_length=8192)  # noqa: N815
    distribution: str | None = Field(None, max_length=64)
    infrastructure: str | None = Field(None, max_length=64)


class CreateConnectedClusterRequest(StrictModel):
    location: str | None = Field(None, max_length=64)
    tags: dict[str, str] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    kind: str | None = None
    properties: ConnectedClusterProperties = Field(default_factory=ConnectedClusterProperties)


def cluster_properties(
    record: ManagedClusterRecord | ConnectedClusterRecord, *, provisioning_state: str
) -> dict[str, Any]:
    """A managed or connected cluster's ARM ``properties``: all it stores (no private part), with its state."""
    return {**record.to_stored(), "provisioningState": provisioning_state}
