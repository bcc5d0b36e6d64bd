"""The ASGI application and the composition root that builds the server's services."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tether import __version__
from tether.api import arm, errors, graph, metadata, oidc, operations, subscriptions
from tether.api.services import Services
from tether.authz.service import Authorizer
from tether.identity.federation import FederatedTokens, IssuerKeys
from tether.identity.keys import KeyRing
from tether.identity.tokens import TokenService
from tether.providers.registry import default_registry
from tether.reconcile.engine import OperationHandler, Reconciler, ReconcilerSet
from tether.reconcile.hints import Hints
from tether.reconcile.resource_groups import ResourceGroupOperations
from tether.reconcile.workspaces import WorkspaceOperations
from tether.settings import Settings
from tether.store import Store


async def build_services(settings: Settings, *, store: Store, public_url: str) -> Services:
    """Wire the server's parts together over an open store (keys are created if missing)."""
    keys = KeyRing(
        store,
        rotation_age=dt.timedelta(days=settings.tokens.key_rotation_days),
        token_lifetime=dt.timedelta(seconds=settings.tokens.access_token_lifetime_s),
    )
    await keys.ensure_current()
    hints = Hints()
    handlers: list[OperationHandler] = [ResourceGroupOperations(), WorkspaceOperations()]
    reconcilers = ReconcilerSet(
        [Reconciler(h, store=store, hints=hints, settings=settings.reconcile) for h in handlers]
    )
    tokens = TokenService(store=store, keys=keys, public_url=public_url, settings=settings.tokens)
    return Services(
        settings=settings,
        public_url=public_url.rstrip("/"),
        store=store,
        keys=keys,
        tokens=tokens,
        federation=FederatedTokens(store=store, tokens=tokens, issuer_keys=IssuerKeys(store), settings=settings.tokens),
        authorizer=Authorizer(store),
        providers=default_registry(),
        hints=hints,
        reconcilers=reconcilers,
    )


def create_app(services: Services) -> FastAPI:
    """The ASGI app; its lifespan runs the reconcilers (so operations finish with nobody polling)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.reconcilers.start()
        try:
            yield
        finally:
            await services.reconcilers.stop()
            await services.federation.aclose()

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
    app.include_router(metadata.router)
    app.include_router(oidc.router)
    app.include_router(operations.router)
    app.include_router(subscriptions.router)
    app.include_router(graph.router)
    app.include_router(arm.router)
    return app
