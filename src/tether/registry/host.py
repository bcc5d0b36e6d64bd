"""The registries this server serves: per registry, a Distribution process on the registry's own login server.

A registry's login server is ``127.0.0.1:<port>``: its own port, chosen when the registry is created
and kept in ``properties.loginServer`` (ACR gives each registry its own host name; loopback has one
name, so the port is what tells registries apart). The registry's Distribution process listens there
itself, over HTTPS with Tether's serving certificate, and sends clients to Tether's main server for
tokens (``auth.token.realm`` is ``<public URL>/oauth2/token``), where ``token_service`` answers for
every served registry, chosen by ``service``. Serving starts the process (at creation, and for every
stored registry on start); a process that exits unexpectedly is restarted (``DistributionPool``).

Hazards: a recorded port taken by another program leaves that registry unserved until restart
(logged); several server replicas on one host would each try to serve every registry.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from tether.authz.service import Authorizer
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.models.registries import RegistryRecord
from tether.domain.resource_types import REGISTRIES
from tether.errors import Unavailable
from tether.identity.tokens import TokenService
from tether.processes import free_loopback_port
from tether.registry.distribution import DistributionPool, TokenTrust
from tether.registry.token_service import RegistryTokenService, ServedRegistry
from tether.registry.tokens import RegistrySigner
from tether.store import Store, resources

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2/token"


class RegistryHost:
    def __init__(
        self,
        *,
        store: Store,
        tokens: TokenService,
        authorizer: Authorizer,
        signer: RegistrySigner,
        public_url: str,
        data_dir: Path,
        tls: tuple[Path, Path],
        registry_bin: Path | None = None,
    ) -> None:
        self._store = store
        self.signer = signer
        self._realm = public_url.rstrip("/") + TOKEN_PATH
        self.processes = DistributionPool(registry_bin=registry_bin, data_dir=data_dir, tls=tls)
        self.token_service = RegistryTokenService(
            tokens=tokens, authorizer=authorizer, signer=signer, find=self.registry_of
        )
        # Written (afresh: the signer may have changed) when this process serves its first registry, not before:
        # the data directory's top level holds only private files.
        self._bundle = data_dir / "registries" / "token-signer.pem"
        self._bundle_written = False
        self._served: dict[str, ServedRegistry] = {}  # by name
        self._by_service: dict[str, ServedRegistry] = {}  # by login server
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Serve every stored registry on its recorded port (their processes start side by side)."""
        async with self._store.transaction() as session:
            rows = await resources.list_all_of_type(session, REGISTRIES)

        async def serve_stored(name: str, resource_id: str, record: RegistryRecord) -> None:
            try:
                await self.serve(parse_resource_id(resource_id), port=record.port)
            except (Unavailable, OSError, ValueError) as e:
                log.error("Registry %s cannot be served on its recorded port: %s", name, e)

        jobs = []
        for row in rows:
            try:  # a stored record that does not read (pydantic's ValidationError is a ValueError) is logged
                jobs.append(serve_stored(row.name, row.id, resources.read_properties(row, RegistryRecord)))
            except ValueError as e:
                log.error("Registry %s cannot be served: its stored record does not read: %s", row.name, e)
        await asyncio.gather(*jobs)

    async def serve(self, resource_id: ResourceId, *, port: int = 0) -> str:
        """Start the registry's process on ``port`` (or a free one) and return its login server (``127.0.0.1:<port>``).

        Raises ``Unavailable`` (``RegistryUnavailable``) when the Distribution binary is missing or the
        process cannot start."""
        name = resource_id.name.lower()
        async with self._lock:
            if (served := self._served.get(name)) is not None:
                return served.login_server
            if not self._bundle_written:
                self.signer.write_bundle(self._bundle)
                self._bundle_written = True
        port = port or free_loopback_port()
        login_server = f"127.0.0.1:{port}"
        trust = TokenTrust(
            issuer=self.signer.issuer, realm=self._realm, service=login_server, signer_bundle=self._bundle
        )
        url = await self.processes.start(name, port=port, trust=trust)
        login_server = url.removeprefix("https://")  # a concurrent serve of the same name may have won
        registry = ServedRegistry(resource_id, login_server)
        async with self._lock:
            self._served[name] = registry
            self._by_service[login_server] = registry
        log.info("Registry %s: login server https://%s", resource_id.name, login_server)
        return login_server

    def login_server_of(self, name: str) -> str | None:
        served = self._served.get(name.lower())
        return served.login_server if served else None

    def registry_of(self, login_server: str) -> ServedRegistry | None:
        """The registry served on ``login_server`` (a token request's ``service``), if any."""
        return self._by_service.get(login_server)

    async def remove(self, name: str) -> None:
        """Stop serving a deleted registry and delete its repositories."""
        async with self._lock:
            served = self._served.pop(name.lower(), None)
            if served is not None:
                self._by_service.pop(served.login_server, None)
        await self.processes.stop(name.lower(), remove_data=True)

    async def aclose(self) -> None:
        async with self._lock:
            self._served, self._by_service = {}, {}
        await self.processes.aclose()
