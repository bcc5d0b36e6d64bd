"""The ASGI application and the composition root that builds the server's services."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tether import __version__, studio
from tether.api import (
    arm,
    arm_methods,
    errors,
    graph,
    graph_applications,
    graph_users,
    job_logs,
    metadata,
    oidc,
    openapi_arm,
    operations,
    registry_tokens,
    relay,
    resources_listing,
    run_history,
    subscriptions,
)
from tether.api.admission import Admission, FairQueue, flow_by_principal
from tether.api.services import Services
from tether.authz.service import Authorizer
from tether.crypto import SecretBox
from tether.identity.federation import FederatedTokens, IssuerKeys
from tether.identity.keys import KeyRing
from tether.identity.secret_checks import SecretChecks
from tether.identity.sign_in import SignIn
from tether.identity.tokens import TokenService
from tether.kube.access import ClusterAccess
from tether.providers.blob_containers import BlobContainers
from tether.providers.computes import Computes
from tether.providers.connected_clusters import ConnectedClusters
from tether.providers.container_registries import ContainerRegistries
from tether.providers.datastores import Datastores
from tether.providers.deployments import DeploymentOperations, Deployments
from tether.providers.extensions import Extensions
from tether.providers.jobs import Jobs
from tether.providers.managed_clusters import ManagedClusters
from tether.providers.ml_assets import CodeContainers, CodeVersions, EnvironmentContainers, EnvironmentVersions
from tether.providers.registry import default_registry
from tether.providers.relays import HybridConnections, RelayAuthorizationRules, RelayNamespaces
from tether.providers.storage_accounts import StorageAccounts
from tether.providers.workspaces import Workspaces
from tether.reconcile.computes import ComputeOperations
from tether.reconcile.connectivity import ConnectivityRecorder, TunnelProbes
from tether.reconcile.dispatch_plan import Planner
from tether.reconcile.engine import OperationHandler, Reconciler, ReconcilerSet
from tether.reconcile.extensions import ExtensionOperations
from tether.reconcile.health import HealthMonitor
from tether.reconcile.job_delivery import DeliverySigner
from tether.reconcile.job_monitor import JobMonitor
from tether.reconcile.jobs import JobOperations
from tether.reconcile.managed_clusters import ManagedClusterOperations
from tether.reconcile.resource_groups import ResourceGroupOperations
from tether.reconcile.starter import OperationStarter
from tether.reconcile.workspaces import WorkspaceOperations
from tether.registry.host import RegistryHost
from tether.registry.tokens import RegistrySigner
from tether.relay.hub import RelayHub
from tether.relay.replicas import CREDENTIAL_PURPOSE, ReplicaRelay
from tether.settings import Settings
from tether.storage.accounts import AccountDirectory
from tether.storage.azurite import AzuritePool
from tether.storage.engine import AzuriteEngine
from tether.storage.gateway import BlobGateway
from tether.store import Store, cluster_secrets


async def build_services(
    settings: Settings,
    *,
    store: Store,
    public_url: str,
    authority_ca_pem: str | None = None,
    internal_url: str | None = None,
) -> Services:
    """Wire the server's parts together over an open store (keys are created if missing). ``internal_url``:
    where the other replicas reach this one's internal endpoint (relay forwarding, decision 0018)."""
    public_url = public_url.rstrip("/")
    secrets = SecretBox.from_key_file(settings.server.data_dir / "secrets.key")
    blob_url = settings.storage.blob_public_url or f"https://127.0.0.1:{settings.storage.blob_port}"
    keys = KeyRing(
        store,
        secrets=secrets,
        rotation_age=dt.timedelta(days=settings.tokens.key_rotation_days),
        token_lifetime=dt.timedelta(seconds=settings.tokens.access_token_lifetime_s),
    )
    await keys.ensure_current()
    secret_checks = SecretChecks(settings.tokens)
    tokens = TokenService(
        store=store, keys=keys, public_url=public_url, settings=settings.tokens, secret_checks=secret_checks
    )
    authorizer = Authorizer(store)
    connectivity = ConnectivityRecorder(store, secret_checks=secret_checks, internal_url=internal_url)
    hub = RelayHub(authenticate=connectivity.authenticate, on_status=connectivity.on_status)
    replicas = ReplicaRelay(
        hub,
        locate=connectivity.locate,
        credential=secrets.derive(CREDENTIAL_PURPOSE),
        ca_pem=authority_ca_pem,
        own_url=internal_url,
    )

    async def sealed_kubeconfig(cluster_key: str) -> str | None:
        async with store.transaction() as session:
            sealed = await cluster_secrets.get(session, resource_key=cluster_key, kind=cluster_secrets.KUBECONFIG)
        return secrets.open(sealed) if sealed else None

    access = ClusterAccess(
        kubeconfigs=sealed_kubeconfig, relay=replicas, kubeconfig_ttl_s=settings.reconcile.read_cache_s
    )
    managed = ManagedClusters(secrets=secrets)
    connected = ConnectedClusters(relay_url=relay_url(public_url), revoke_tunnel=replicas.revoke)
    starter = OperationStarter()
    blobs = BlobGateway(
        tokens=tokens,
        authorizer=authorizer,
        accounts=AccountDirectory(store, secrets),
        engines=AzuritePool(azurite_bin=settings.storage.azurite_bin, data_dir=settings.server.data_dir),
        authority=public_url,
        virtual_host_suffix=settings.storage.virtual_host_suffix(),
    )
    blob_engine = AzuriteEngine(blobs)
    data_dir = settings.server.data_dir
    registries = RegistryHost(
        store=store,
        tokens=tokens,
        authorizer=authorizer,
        signer=RegistrySigner.load_or_create(data_dir, secrets=secrets, issuer=public_url),
        public_url=public_url,  # the registries' token realm: <public URL>/oauth2/token
        data_dir=data_dir,
        tls=(data_dir / "server.pem", data_dir / "server-key.pem"),  # written by tether.api.server.ensure_tls
        registry_bin=settings.registry.registry_bin,
    )
    storage_accounts = StorageAccounts(secrets=secrets, engine=blob_engine, blob_url=blob_url)
    job_monitor = JobMonitor(store=store, access=access, interval_s=settings.reconcile.job_poll_interval_s)
    handlers: list[OperationHandler] = [
        ResourceGroupOperations(assignments=authorizer.index),
        WorkspaceOperations(assignments=authorizer.index),
        ManagedClusterOperations(access=access),
        ExtensionOperations(store=store, access=access, assignments=authorizer.index),
        ComputeOperations(
            store=store, authz=authorizer, access=access, step_deadline_s=settings.reconcile.attach_step_deadline_s
        ),
        JobOperations(
            store=store,
            access=access,
            planner=Planner(
                authority=public_url, cache_s=settings.reconcile.read_cache_s, authority_ca_pem=authority_ca_pem
            ),
            step_deadline_s=settings.reconcile.attach_step_deadline_s,
            on_dispatched=job_monitor.wake.set,
            delivery=DeliverySigner(engine=blob_engine, blob_url=blob_url, ca_pem=authority_ca_pem),
            authorizer=authorizer,
        ),
    ]
    jobs = Jobs(public_url=public_url)
    workspaces = Workspaces(storage_accounts=storage_accounts, public_url=public_url)
    reconcilers = ReconcilerSet(
        [Reconciler(h, store=store, starter=starter, settings=settings.reconcile) for h in handlers]
    )
    return Services(
        settings=settings,
        public_url=public_url,
        store=store,
        keys=keys,
        tokens=tokens,
        federation=FederatedTokens(store=store, tokens=tokens, issuer_keys=IssuerKeys(store), settings=settings.tokens),
        authorizer=authorizer,
        providers=default_registry(
            extra=[
                managed,
                connected,
                Computes(),
                jobs,
                Extensions(),
                RelayNamespaces(),
                HybridConnections(),
                RelayAuthorizationRules(),
                storage_accounts,
                BlobContainers(engine=blob_engine),
                ContainerRegistries(engine=registries),
                workspaces,  # replaces the registry's bare one
                Deployments(workspaces=workspaces),
                DeploymentOperations(),
                Datastores(sealed=secrets, engine=blob_engine, blob_host=storage_accounts.blob_host),
                EnvironmentContainers(),
                EnvironmentVersions(blob_url=blob_url),
                CodeContainers(),
                CodeVersions(engine=blob_engine, blob_url=blob_url),
            ]
        ),
        starter=starter,
        reconcilers=reconcilers,
        secrets=secrets,
        hub=hub,
        replicas=replicas,
        access=access,
        connectivity=connectivity,
        tunnel_probes=TunnelProbes(store, access=access, fresh_tunnels=connectivity.fresh_tunnels),
        managed_clusters=managed,
        connected_clusters=connected,
        health=HealthMonitor(store=store, access=access, interval_s=settings.reconcile.health_interval_s),
        jobs=jobs,
        job_monitor=job_monitor,
        sign_in=SignIn(store=store, tokens=tokens, checks=secret_checks),
        blobs=blobs,
        storage_accounts=storage_accounts,
        registries=registries,
    )


def relay_url(public_url: str) -> str:
    """Where connect agents dial: the server's own address, over WebSocket (TLS)."""
    return public_url.replace("https://", "wss://", 1) + "/relay/connect"


def create_app(services: Services) -> FastAPI:
    """The ASGI app; its lifespan runs the reconcilers (so operations finish with nobody polling)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.aclose()

    app = FastAPI(
        title="Tether",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    errors.install(app)
    api = services.settings.api
    app.add_middleware(
        Admission,
        signed_in=FairQueue(seats=api.seats, per_flow=api.seats_per_caller, queued_per_flow=api.queued_per_caller),
        others=FairQueue(seats=api.seats, per_flow=api.seats_per_source, queued_per_flow=api.queued_per_caller),
        flow_of=flow_by_principal(services.tokens),
    )
    app.include_router(metadata.router)
    app.include_router(oidc.router)
    app.include_router(registry_tokens.router)
    app.include_router(operations.router)
    app.include_router(subscriptions.router)
    app.include_router(resources_listing.router)
    app.include_router(graph.router)
    app.include_router(graph_applications.router)
    app.include_router(graph_users.router)
    studio.install(app)
    app.include_router(relay.router)
    app.include_router(job_logs.router)
    app.include_router(run_history.router)
    app.include_router(arm.router)
    app.include_router(arm_methods.router)
    openapi_arm.install(app, served_types=services.providers.served_types)
    return app
