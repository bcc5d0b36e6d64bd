"""The CNCF Distribution registry (Debian's ``docker-registry`` 2.8): one supervised process per container registry.

Each process serves one registry's repositories itself, on the registry's login server
(``127.0.0.1:<port>``), over HTTPS with Tether's serving certificate, with its blobs under
``<data dir>/registries/<name>/storage``; it trusts only bearer tokens signed by Tether's registry
token signer (``auth.token.rootcertbundle``) for its own ``service`` (the login server), and its
challenge's realm is Tether's ``/oauth2/token``. It never sees Tether's store: every decision is in
the token's ``access`` claims. No Python is in the byte path (docs/decisions/0027).

Hazards: a new registry's port is chosen by binding and releasing it, and the process binds it
itself (a small race with other programs, seen as a failed start); a process that exits unexpectedly
is restarted on the same port after a backoff (0.5 s doubling to 30 s, logged), and its uploads in
progress are lost; ``aclose`` must run at shutdown or the processes outlive the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx2
import yaml

from tether.errors import Unavailable
from tether.processes import free_loopback_port, loopback_port_is_free, stop_process

log = logging.getLogger(__name__)

DEFAULT_REGISTRY_BIN = Path("/usr/bin/docker-registry")
_START_TIMEOUT_S = 60.0
_RESTART_FIRST_S = 0.5
_RESTART_MAX_S = 30.0
#: A process that ran this long before exiting is restarted after the first delay again, not the last one.
_RESTART_RESET_S = 60.0


@dataclass(frozen=True)
class TokenTrust:
    """What a registry process needs to check tokens: who issues them, where, and the signer's certificate."""

    issuer: str
    realm: str
    service: str
    signer_bundle: Path


@dataclass
class _Supervised:
    """A registry's process and the task that restarts it; ``stopping`` tells an exit asked for from a crash."""

    name: str
    port: int
    trust: TokenTrust | None
    process: asyncio.subprocess.Process
    drain: asyncio.Task[None]
    supervisor: asyncio.Task[None] | None = None
    stopping: bool = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def write_config(directory: Path, *, port: int, trust: TokenTrust | None, tls: tuple[Path, Path]) -> Path:
    """The registry's config.yml: on ``127.0.0.1:<port>``, HTTPS with ``tls`` (certificate, key), tokens checked as
    ``trust`` says; ``trust`` None serves without authentication (bench/registry.py's floor)."""
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(directory / "storage")},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            "relativeurls": True,
            "headers": {"X-Content-Type-Options": ["nosniff"]},
            "tls": {"certificate": str(tls[0]), "key": str(tls[1])},
        },
    }
    if trust is not None:
        config["auth"] = {
            "token": {
                "realm": trust.realm,
                "service": trust.service,
                "issuer": trust.issuer,
                "rootcertbundle": str(trust.signer_bundle),
            }
        }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def _drain(stream: asyncio.StreamReader | None, *, name: str) -> None:
    """Keep reading the registry's output (so a full pipe never blocks it), logging it at debug level."""
    if stream is None:
        return
    while line := await stream.readline():
        log.debug("registry %s: %s", name, line.decode(errors="replace").rstrip())


async def _wait_ready(process: asyncio.subprocess.Process, url: str, *, name: str) -> None:
    """Until ``/v2/`` answers (401 with token auth, 200 without) or the process exits."""
    # Readiness only: the certificate is Tether's own, checked by the real clients.
    async with httpx2.AsyncClient(timeout=2.0, verify=False) as client, asyncio.timeout(_START_TIMEOUT_S):
        while process.returncode is None:
            with contextlib.suppress(httpx2.TransportError):
                if (await client.get(f"{url}/v2/")).status_code in (200, 401):
                    return
            await asyncio.sleep(0.05)
    raise Unavailable(
        f"The registry process for '{name}' exited while starting (code {process.returncode}).",
        code="RegistryUnavailable",
    )


class DistributionPool:
    """The running Distribution processes, one per registry name, each restarted if it exits unexpectedly."""

    def __init__(self, *, registry_bin: Path | None, data_dir: Path, tls: tuple[Path, Path]) -> None:
        self._bin = registry_bin or DEFAULT_REGISTRY_BIN
        self._tls = tls
        self._data_dir = data_dir
        self._running: dict[str, _Supervised] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def location_of(self, name: str) -> Path:
        return self._data_dir / "registries" / name

    def pid_of(self, name: str) -> int | None:
        """The process id serving ``name`` now (None while it is down or restarting)."""
        running = self._running.get(name)
        if running is None or running.process.returncode is not None:
            return None
        return running.process.pid

    async def start(self, name: str, *, port: int = 0, trust: TokenTrust | None) -> str:
        """Serve ``name`` on ``127.0.0.1:<port>`` (0: a free port) until stopped; its base URL once it answers.

        Raises ``Unavailable`` (``RegistryUnavailable``) if the binary is missing or the process exits while
        starting (its port taken, say). A registry already running is left as it is."""
        async with self._locks.setdefault(name, asyncio.Lock()):
            if (running := self._running.get(name)) is not None:
                return running.url
            port = port or free_loopback_port()
            process, drain = await self._launch(name, port=port, trust=trust)
            supervised = _Supervised(name, port, trust, process, drain)
            supervised.supervisor = asyncio.create_task(self._supervise(supervised), name=f"registry-{name}")
            self._running[name] = supervised
            return supervised.url

    async def _launch(
        self, name: str, *, port: int, trust: TokenTrust | None
    ) -> tuple[asyncio.subprocess.Process, asyncio.Task[None]]:
        if not self._bin.exists():
            raise Unavailable(
                f"The registry (CNCF Distribution, Debian's docker-registry) is not installed at {self._bin}. "
                "Install it with: tools/registry/install.sh (make venv does this).",
                code="RegistryUnavailable",
            )
        if not loopback_port_is_free(port):
            raise Unavailable(
                f"The port of the registry '{name}', 127.0.0.1:{port}, is taken by another program.",
                code="RegistryUnavailable",
            )
        location = self.location_of(name)
        config = await asyncio.to_thread(write_config, location, port=port, trust=trust, tls=self._tls)
        process = await asyncio.create_subprocess_exec(
            str(self._bin),
            "serve",
            str(config),
            stdin=asyncio.subprocess.PIPE,  # closed when Tether dies
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "OTEL_TRACES_EXPORTER": "none"},
        )
        drain = asyncio.create_task(_drain(process.stdout, name=name))
        try:
            await _wait_ready(process, f"https://127.0.0.1:{port}", name=name)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            drain.cancel()
            raise
        log.info("Registry process for %s (pid %d) serving https://127.0.0.1:%d", name, process.pid, port)
        return process, drain

    async def _supervise(self, supervised: _Supervised) -> None:
        """Wait for the process to exit; unless it was asked to, start it again on its port, with a backoff."""
        loop = asyncio.get_running_loop()
        delay = _RESTART_FIRST_S
        while True:
            started = loop.time()
            code = await supervised.process.wait()
            if supervised.stopping:
                return
            if loop.time() - started > _RESTART_RESET_S:
                delay = _RESTART_FIRST_S
            log.warning(
                "Registry process for %s exited unexpectedly (code %s); restarting it in %.1f s",
                supervised.name,
                code,
                delay,
            )
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RESTART_MAX_S)
                try:
                    async with self._locks.setdefault(supervised.name, asyncio.Lock()):
                        if supervised.stopping:
                            return
                        supervised.drain.cancel()
                        supervised.process, supervised.drain = await self._launch(
                            supervised.name, port=supervised.port, trust=supervised.trust
                        )
                    break
                except Unavailable as e:
                    log.error(
                        "Registry %s could not be restarted (%s); trying again in %.1f s", supervised.name, e, delay
                    )

    async def stop(self, name: str, *, remove_data: bool = False) -> None:
        """Stop a registry's process (no restart); with ``remove_data`` its repositories are deleted too."""
        async with self._locks.setdefault(name, asyncio.Lock()):
            running = self._running.pop(name, None)
            if running is not None:
                running.stopping = True
                if running.supervisor is not None:
                    running.supervisor.cancel()
                await stop_process(running.process)
                running.drain.cancel()
        if remove_data:
            await asyncio.to_thread(shutil.rmtree, self.location_of(name), True)

    async def aclose(self) -> None:
        for name in list(self._running):
            await self.stop(name)
