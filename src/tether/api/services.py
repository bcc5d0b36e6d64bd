"""The server's long-lived parts, built once at start and reached by routes through dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from tether.authz.service import Authorizer
from tether.crypto import SecretBox
from tether.identity.federation import FederatedTokens
from tether.identity.keys import KeyRing
from tether.identity.sign_in import SignIn
from tether.identity.tokens import TokenService
from tether.kube.access import ClusterAccess
from tether.providers.connected_clusters import ConnectedClusters
from tether.providers.jobs import Jobs
from tether.providers.managed_clusters import ManagedClusters
from tether.providers.registry import ProviderRegistry
from tether.providers.storage_accounts import StorageAccounts
from tether.reconcile.connectivity import ConnectivityRecorder, TunnelProbes
from tether.reconcile.engine import ReconcilerSet
from tether.reconcile.health import HealthMonitor
from tether.reconcile.job_monitor import JobMonitor
from tether.reconcile.starter import OperationStarter
from tether.registry.host import RegistryHost
from tether.relay.hub import RelayHub
from tether.relay.replicas import ReplicaRelay
from tether.settings import Settings
from tether.storage.gateway import BlobGateway
from tether.store import Store


@dataclass
class Services:
    settings: Settings
    public_url: str
    store: Store
    keys: KeyRing
    tokens: TokenService
    federation: FederatedTokens
    authorizer: Authorizer
    providers: ProviderRegistry
    starter: OperationStarter
    reconcilers: ReconcilerSet
    secrets: SecretBox
    hub: RelayHub
    replicas: ReplicaRelay
    access: ClusterAccess
    connectivity: ConnectivityRecorder
    tunnel_probes: TunnelProbes
    managed_clusters: ManagedClusters
    connected_clusters: ConnectedClusters
    health: HealthMonitor
    jobs: Jobs
    job_monitor: JobMonitor
    sign_in: SignIn
    blobs: BlobGateway
    storage_accounts: StorageAccounts
    registries: RegistryHost

    async def start(self) -> None:
        """Start the background work (reconcilers, health); the server calls it once, at startup."""
        await self.connectivity.reset()
        self.connectivity.start(self.hub.connected_clusters)
        self.tunnel_probes.start()
        self.reconcilers.start()
        self.health.start()
        self.job_monitor.start()
        await self.registries.start()

    async def aclose(self) -> None:
        """Stop the background work and close outbound clients; the store is closed by its owner."""
        await self.reconcilers.stop()
        await self.health.stop()
        await self.job_monitor.stop()
        await self.hub.close()
        await self.connectivity.close()
        await self.tunnel_probes.close()
        await self.federation.aclose()
        await self.access.aclose()  # pooled cluster connections, once nothing above uses them
        await self.replicas.aclose()
        await self.blobs.aclose()  # stops the Azurite processes
        await self.registries.aclose()  # stops the registry processes
