"""Clusters' stored state: ``ManagedClusterRecord`` (``Microsoft.ContainerService/managedClusters``) and
``ConnectedClusterRecord`` (``Microsoft.Kubernetes/connectedClusters``).

Both are public whole (no private part): a managed cluster's kubeconfig, an agent's credential and the relay's
tunnel records live in their own stores (``store.cluster_secrets``, ``store.relay_tunnels``), never here. What
Tether learns by probing the cluster (version, nodes, service-account issuer) is written once the probe has
answered; until then those keys are absent on disk and in the answer (``exclude_if`` None), as they always were.

The layout on disk is the models' dump by alias, in field order, which is the order the providers wrote the
keys in before these models existed: existing databases read unchanged.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from tether.domain import resource_types as rt
from tether.domain.models.stored import StoredModel


def _absent(value: object) -> bool:
    return value is None


class OidcIssuerProfile(StoredModel):
    """The cluster's service-account issuer, as AKS answers it (``issuerURL`` None: the cluster names none)."""

    enabled: bool
    issuer_url: str | None = Field(alias="issuerURL")


class AgentPoolProfile(StoredModel):
    """Tether's one summary "pool": the cluster's node counts (it does not manage node pools)."""

    name: str
    count: int
    gpu_node_count: int = Field(alias="gpuNodeCount")


class PowerState(StoredModel):
    code: str = "Running"


class ManagedClusterRecord(StoredModel):
    """A registered cluster: where its API server is, then what the registration's probe found."""

    #: The API server's URL, from the kubeconfig (AKS's field name for the cluster's address).
    fqdn: str | None
    kubeconfig_context: str | None = Field(alias="kubeconfigContext")
    kubernetes_version: str | None = Field(None, alias="kubernetesVersion", exclude_if=_absent)
    current_kubernetes_version: str | None = Field(None, alias="currentKubernetesVersion", exclude_if=_absent)
    agent_pool_profiles: list[AgentPoolProfile] | None = Field(None, alias="agentPoolProfiles", exclude_if=_absent)
    oidc_issuer_profile: OidcIssuerProfile | None = Field(None, alias="oidcIssuerProfile", exclude_if=_absent)
    power_state: PowerState | None = Field(None, alias="powerState", exclude_if=_absent)


class ConnectivityStatus(StrEnum):
    """Whether the cluster's agent holds a tunnel to the relay (``Connecting``: it never has yet)."""

    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    OFFLINE = "Offline"


class ConnectedClusterRecord(StoredModel):
    """A cluster reached through its agent's tunnel: connectivity, then what the probe through the tunnel found."""

    connectivity_status: ConnectivityStatus = Field(ConnectivityStatus.CONNECTING, alias="connectivityStatus")
    #: RFC 3339, when a tunnel last opened or closed.
    last_connectivity_time: str | None = Field(None, alias="lastConnectivityTime")
    distribution: str = "generic"
    infrastructure: str = "generic"
    agent_version: str | None = Field(None, alias="agentVersion")
    kubernetes_version: str | None = Field(None, alias="kubernetesVersion")
    total_node_count: int | None = Field(None, alias="totalNodeCount")
    #: Where the agent dials (the relay's public URL when the cluster was created).
    relay_endpoint: str = Field(alias="relayEndpoint")
    gpu_node_count: int | None = Field(None, alias="gpuNodeCount", exclude_if=_absent)
    oidc_issuer_profile: OidcIssuerProfile | None = Field(None, alias="oidcIssuerProfile", exclude_if=_absent)

    @property
    def connected(self) -> bool:
        return self.connectivity_status is ConnectivityStatus.CONNECTED


ClusterRecord = ManagedClusterRecord | ConnectedClusterRecord


def record_type(full_type: str) -> type[ManagedClusterRecord] | type[ConnectedClusterRecord]:
    """The stored model of a cluster resource type (managed or connected)."""
    return ConnectedClusterRecord if full_type.lower() == rt.CONNECTED_CLUSTERS.lower() else ManagedClusterRecord
