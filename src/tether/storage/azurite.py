"""Azurite, the blob engine: one ``azurite-blob`` process per storage account, started on first use.

Each process serves exactly one account, named as the Tether account and holding its two keys
(``AZURITE_ACCOUNTS``), on a loopback port of its own, with its data under
``<data dir>/azurite/<account>``. Because the account name, keys and path-style URLs are the same on
both sides, a client's Shared Key or SAS signature is checked by Azurite itself, unchanged.
(Azurite reads its accounts only when it starts, so one process per account is what lets accounts be
created while the server runs; docs/decisions/0012-blob-storage-behind-azurite.md.)

Hazards: a process takes a second or more to start (longer on a loaded machine), so the first
request of an account waits for it; ``aclose`` must run at shutdown or the processes outlive the
server (they also exit when their stdin closes, i.e. when this process dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tether.errors import Unavailable
from tether.processes import stop_process

log = logging.getLogger(__name__)

AZURITE_VERSION = "3.37.0"
_LISTENING = re.compile(rb"successfully listens on https?://127\.0\.0\.1:(\d+)")
_START_TIMEOUT_S = 90.0


def default_azurite_bin() -> Path:
    """Where ``tools/azurite/install.sh`` puts the pinned Azurite (outside the repo)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "tether" / "azurite" / AZURITE_VERSION / "node_modules" / ".bin" / "azurite-blob"


@dataclass(frozen=True)
class AccountKeys:
    name: str
    key1: str
    key2: str


@dataclass
class _Running:
    process: asyncio.subprocess.Process
    url: str
    keys: AccountKeys


async def _wait_listening(process: asyncio.subprocess.Process, *, account: str) -> int:
    """Read Azurite's output until it says which port it listens on."""
    assert process.stdout is not None
    seen: list[bytes] = []
    async with asyncio.timeout(_START_TIMEOUT_S):
        while line := await process.stdout.readline():
            seen.append(line)
            if match := _LISTENING.search(line):
                return int(match.group(1))
    raise Unavailable(
        f"The blob engine (Azurite) for storage account '{account}' exited while starting: "
        f"{b''.join(seen[-5:]).decode(errors='replace').strip()}",
        code="BlobEngineUnavailable",
    )


async def _drain(stream: asyncio.StreamReader | None) -> None:
    """Keep reading Azurite's output so a full pipe never blocks it."""
    if stream is None:
        return
    while await stream.readline():
        pass


def _claim_location(location: Path, keys: AccountKeys) -> None:
    """Make ``location`` the data of *this* account: blobs left by a deleted account of the same name (its
    resource group deleted, say, while the server ran) are removed, never shown to the new account."""
    owner = hashlib.sha256(f"{keys.name}:{keys.key1}:{keys.key2}".encode()).hexdigest()
    marker = location / ".tether-account"
    if location.exists() and (not marker.exists() or marker.read_text().strip() != owner):
        shutil.rmtree(location)
    location.mkdir(parents=True, exist_ok=True)
    marker.write_text(owner)


class AzuritePool:
    """The running Azurite processes, one per storage account."""

    def __init__(self, *, azurite_bin: Path | None, data_dir: Path, tls: tuple[Path, Path] | None = None) -> None:
        """``tls`` (certificate, key; PEM) serves the engines over HTTPS. Tether reaches its own engines over
        loopback HTTP; ``bench/blob.py`` uses it for a floor that does the TLS work Tether's endpoint does."""
        self._bin = azurite_bin or default_azurite_bin()
        self._data_dir = data_dir
        self._tls = tls
        self._running: dict[str, _Running] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._drains: set[asyncio.Task[None]] = set()

    def location_of(self, account: str) -> Path:
        """Where an account's blobs are kept."""
        return self._data_dir / "azurite" / account

    async def url_of(self, keys: AccountKeys) -> str:
        """The base URL (``http[s]://127.0.0.1:<port>``) of the account's Azurite, started if needed."""
        running = self._running.get(keys.name)
        if running is not None and running.keys == keys and running.process.returncode is None:
            return running.url
        lock = self._locks.setdefault(keys.name, asyncio.Lock())
        async with lock:
            running = self._running.get(keys.name)
            if running is not None and running.keys == keys and running.process.returncode is None:
                return running.url
            if running is not None:
                await self._stop(keys.name)
            started = await self._start(keys)
            self._running[keys.name] = started
            return started.url

    async def _start(self, keys: AccountKeys) -> _Running:
        if not self._bin.exists():
            raise Unavailable(
                f"The blob engine (Azurite {AZURITE_VERSION}) is not installed at {self._bin}. "
                "Install it with: tools/azurite/install.sh (make venv does this).",
                code="BlobEngineUnavailable",
            )
        location = self.location_of(keys.name)
        await asyncio.to_thread(_claim_location, location, keys)  # may remove a large directory
        env = {**os.environ, "AZURITE_ACCOUNTS": f"{keys.name}:{keys.key1}:{keys.key2}"}
        tls = ("--cert", str(self._tls[0]), "--key", str(self._tls[1])) if self._tls else ()
        process = await asyncio.create_subprocess_exec(
            str(self._bin),
            *("--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(location), *tls),
            # Clients send x-ms-version newer than Azurite knows; no telemetry calls. Product-style URLs stay on:
            # Tether forwards to 127.0.0.1 (path-style), or with a virtual host's Host (account from the host name).
            *("--skipApiVersionCheck", "--loose", "--disableTelemetry"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        try:
            port = await _wait_listening(process, account=keys.name)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        task = asyncio.create_task(_drain(process.stdout))
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)
        log.info("Azurite for storage account %s listening on 127.0.0.1:%d", keys.name, port)
        return _Running(process, f"{'https' if self._tls else 'http'}://127.0.0.1:{port}", keys)

    async def _stop(self, name: str) -> None:
        running = self._running.pop(name, None)
        if running is not None:
            await stop_process(running.process)

    async def stop_account(self, name: str) -> None:
        """Stop an account's process (its account was deleted)."""
        async with self._locks.setdefault(name, asyncio.Lock()):
            await self._stop(name)

    async def aclose(self) -> None:
        for name in list(self._running):
            await self._stop(name)
        for task in list(self._drains):
            task.cancel()
