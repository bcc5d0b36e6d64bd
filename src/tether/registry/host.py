"""The registries this server serves: per registry, a login server (HTTPS, its own loopback port) and a process.

A registry's login server is ``127.0.0.1:<port>``: its own port, chosen when the registry is created
and kept in ``properties.loginServer`` (ACR gives each registry its own host name; loopback has one
name, so the port is what tells registries apart). It is served by a uvicorn server of its own in this
process, with Tether's serving certificate; its ``/v2/`` is forwarded to the registry's Distribution
process, started on first use. On start, every stored registry is served again on its recorded port.

Hazards: a recorded port taken by another program leaves that registry unserved until restart
(logged); several server replicas on one host would each try to serve every registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from tether.authz.service import Authorizer
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.models.registries import RegistryRecord
from tether.domain.resource_types import REGISTRIES
from tether.identity.tokens import TokenService
from tether.registry.distribution import DistributionPool, TokenTrust
from tether.registry.login_server import LoginServer, ServedRegistry
from tether.registry.tokens import RegistrySigner
from tether.storage.forward import upstream_client
from tether.store import Store, resources

log = logging.getLogger(__name__)


class _Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to the main server (it is stopped by ``should_exit``)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class _Served:
    registry: ServedRegistry
    listener: _Listener
    task: asyncio.Task[None]


class RegistryHost:
    def __init__(
        self,
        *,
        store: Store,
        tokens: TokenService,
        authorizer: Authorizer,
        signer: RegistrySigner,
        data_dir: Path,
        tls: tuple[Path, Path],
        registry_bin: Path | None = None,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._authorizer = authorizer
        self.signer = signer
        self._tls = tls
        self.processes = DistributionPool(registry_bin=registry_bin, data_dir=data_dir)
        # Written (afresh: the signer may have changed) when this process serves its first registry, not before:
        # the data directory's top level holds only private files.
        self._bundle = data_dir / "registries" / "token-signer.pem"
        self._bundle_written = False
        self._http = upstream_client()
        self._served: dict[str, _Served] = {}
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Serve every stored registry on its recorded port."""
        async with self._store.transaction() as session:
            rows = await resources.list_all_of_type(session, REGISTRIES)
        for row in rows:
            try:  # a stored record that does not read (pydantic's ValidationError is a ValueError) is logged
                record = resources.read_properties(row, RegistryRecord)
                await self.serve(parse_resource_id(row.id), port=record.port)
            except (OSError, ValueError) as e:
                log.error("Registry %s cannot be served on its recorded port: %s", row.name, e)

    async def serve(self, resource_id: ResourceId, *, port: int = 0) -> str:
        """Serve a registry's login server (on ``port``, or a free one) and return it (``127.0.0.1:<port>``)."""
        name = resource_id.name.lower()
        async with self._lock:
            if (served := self._served.get(name)) is not None:
                return served.registry.login_server
            if not self._bundle_written:
                self.signer.write_bundle(self._bundle)
                self._bundle_written = True
            sock = _bind_loopback(port)
            login_server = f"127.0.0.1:{sock.getsockname()[1]}"
            registry = ServedRegistry(resource_id, login_server)
            trust = TokenTrust(
                issuer=self.signer.issuer,
                realm=f"https://{login_server}/oauth2/token",
                service=login_server,
                signer_bundle=self._bundle,
            )

            async def upstream() -> str:
                return await self.processes.url_of(name, trust=trust)

            front = LoginServer(
                registry,
                tokens=self._tokens,
                authorizer=self._authorizer,
                signer=self.signer,
                upstream=upstream,
                http=self._http,
            )
            config = uvicorn.Config(
                front.app(),
                ssl_certfile=str(self._tls[0]),
                ssl_keyfile=str(self._tls[1]),
                lifespan="off",
                log_level="warning",
                access_log=False,
                server_header=False,  # the registry's own headers pass through
                date_header=False,
                timeout_keep_alive=65,
            )
            listener = _Listener(config)
            task = asyncio.create_task(listener.serve(sockets=[sock]))
            self._served[name] = _Served(registry, listener, task)
            log.info("Registry %s: login server https://%s", resource_id.name, login_server)
            return login_server

    def login_server_of(self, name: str) -> str | None:
        served = self._served.get(name.lower())
        return served.registry.login_server if served else None

    async def remove(self, name: str) -> None:
        """Stop serving a deleted registry and delete its repositories."""
        async with self._lock:
            served = self._served.pop(name.lower(), None)
        if served is not None:
            await _stop(served)
        await self.processes.stop(name.lower(), remove_data=True)

    async def aclose(self) -> None:
        async with self._lock:
            served, self._served = list(self._served.values()), {}
        for item in served:
            await _stop(item)
        await self.processes.aclose()
        await self._http.aclose()


def _bind_loopback(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.listen(512)
    return sock


async def _stop(served: _Served) -> None:
    served.listener.should_exit = True
    try:
        async with asyncio.timeout(10):
            await served.task
    except TimeoutError:
        served.task.cancel()
