"""An in-process Tether server for tests: the ASGI app over ``httpx2.ASGITransport``, store on SQLite.

``InProcessServer`` opens a fresh store in a directory, bootstraps it, builds the services, starts
the reconcilers, and hands out authenticated ``httpx2.AsyncClient``s. No sockets, no TLS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from tether.api.app import build_services, create_app
from tether.api.services import Services
from tether.domain.principals import Caller, PrincipalKind
from tether.identity.bootstrap import Bootstrap, ensure_bootstrap
from tether.settings import ReconcileSettings, ServerSettings, Settings
from tether.store import Store

PUBLIC_URL = "https://tether.test"


@dataclass
class InProcessServer:
    services: Services
    bootstrap: Bootstrap
    transport: httpx2.ASGITransport

    @property
    def subscription(self) -> str:
        return f"/subscriptions/{self.bootstrap.subscription_id}"

    def admin(self) -> Caller:
        return Caller(
            tenant_id=self.bootstrap.tenant_id,
            object_id=self.bootstrap.admin_object_id,
            app_id=self.bootstrap.client_id,
            kind=PrincipalKind.SERVICE_PRINCIPAL,
        )

    def token_for(self, caller: Caller, *, audience: str = PUBLIC_URL) -> str:
        token: str = self.services.tokens.mint(caller, audience=audience)["access_token"]
        return token

    def client(self, *, token: str | None = None) -> httpx2.AsyncClient:
        """An HTTP client to the app; authenticated as the admin unless ``token`` is given ("" for none)."""
        headers = {}
        bearer = self.token_for(self.admin()) if token is None else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return httpx2.AsyncClient(transport=self.transport, base_url=PUBLIC_URL, headers=headers)


def settings_for_tests(data_dir: Path, *, db_url: str | None = None) -> Settings:
    return Settings(
        server=ServerSettings(data_dir=data_dir, db_url=db_url, public_url=PUBLIC_URL),
        reconcile=ReconcileSettings(idle_poll_s=0.2, lease_s=5, step_deadline_s=10),
    )


@asynccontextmanager
async def in_process_server(data_dir: Path, *, settings: Settings | None = None) -> AsyncIterator[InProcessServer]:
    settings = settings or settings_for_tests(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.database_url())
    try:
        bootstrap = await ensure_bootstrap(
            store, path=data_dir / "bootstrap.json", server=PUBLIC_URL, ca_file=data_dir / "ca.pem"
        )
        services = await build_services(settings, store=store, public_url=PUBLIC_URL)
        await services.start()
        try:
            yield InProcessServer(services, bootstrap, httpx2.ASGITransport(app=create_app(services)))
        finally:
            await services.aclose()
    finally:
        await store.close()
