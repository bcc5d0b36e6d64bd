"""The CNCF Distribution registry (Debian's ``docker-registry`` 2.8): one process per container registry.

Each process serves one registry's repositories over loopback HTTP on a port of its own, with its
blobs under ``<data dir>/registries/<name>/storage``, and trusts only bearer tokens signed by Tether's
registry token signer (``auth.token.rootcertbundle``) for its own ``service`` (the login server). It
never sees Tether's store: every decision is in the token's ``access`` claims.

Hazards: the port is chosen by binding and releasing it (a small race with other programs, seen as a
failed start); ``aclose`` must run at shutdown or the processes outlive the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import httpx2
import yaml

from tether.errors import Unavailable

log = logging.getLogger(__name__)

DEFAULT_REGISTRY_BIN = Path("/usr/bin/docker-registry")
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TokenTrust:
    """What a registry process needs to check tokens: who issues them, where, and the signer's certificate."""

    issuer: str
    realm: str
    service: str
    signer_bundle: Path


@dataclass
class _Running:
    process: asyncio.subprocess.Process
    url: str
    drain: asyncio.Task[None]


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(directory: Path, *, port: int, trust: TokenTrust | None, tls: tuple[Path, Path] | None = None) -> Path:
    """The registry's config.yml; ``trust`` None serves without authentication and ``tls`` (certificate, key)
    over HTTPS: bench/registry.py's floor, doing the TLS work Tether's login server does."""
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(directory / "storage")},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {"addr": f"127.0.0.1:{port}", "relativeurls": True, "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    if tls is not None:
        config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}  # type: ignore[index]
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
    # Readiness only: a TLS floor's certificate is checked by its real clients, not here.
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
    """The running Distribution processes, one per registry name."""

    def __init__(self, *, registry_bin: Path | None, data_dir: Path, tls: tuple[Path, Path] | None = None) -> None:
        self._bin = registry_bin or DEFAULT_REGISTRY_BIN
        self._tls = tls
        self._data_dir = data_dir
        self._running: dict[str, _Running] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def location_of(self, name: str) -> Path:
        return self._data_dir / "registries" / name

    async def url_of(self, name: str, *, trust: TokenTrust | None) -> str:
        """The loopback base URL of the registry's process, started if needed."""
        running = self._running.get(name)
        if running is not None and running.process.returncode is None:
            return running.url
        async with self._locks.setdefault(name, asyncio.Lock()):
            running = self._running.get(name)
            if running is not None and running.process.returncode is None:
                return running.url
            started = await self._start(name, trust=trust)
            self._running[name] = started
            return started.url

    async def _start(self, name: str, *, trust: TokenTrust | None) -> _Running:
        if not self._bin.exists():
            raise Unavailable(
                f"The registry (CNCF Distribution, Debian's docker-registry) is not installed at {self._bin}. "
                "Install it with: tools/registry/install.sh (make venv does this).",
                code="RegistryUnavailable",
            )
        port = _free_loopback_port()
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
        url = f"{'https' if self._tls else 'http'}://127.0.0.1:{port}"
        try:
            await _wait_ready(process, url, name=name)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            drain.cancel()
            raise
        log.info("Registry process for %s listening on 127.0.0.1:%d", name, port)
        return _Running(process, url, drain)

    async def stop(self, name: str, *, remove_data: bool = False) -> None:
        """Stop a registry's process; with ``remove_data`` its repositories are deleted too."""
        async with self._locks.setdefault(name, asyncio.Lock()):
            running = self._running.pop(name, None)
            if running is not None and running.process.returncode is None:
                running.process.terminate()
                try:
                    async with asyncio.timeout(5):
                        await running.process.wait()
                except TimeoutError:
                    running.process.kill()
                    await running.process.wait()
            if running is not None:
                running.drain.cancel()
        if remove_data:
            await asyncio.to_thread(shutil.rmtree, self.location_of(name), True)

    async def aclose(self) -> None:
        for name in list(self._running):
            await self.stop(name)
