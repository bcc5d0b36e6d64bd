"""An in-process server whose blob endpoint really listens (HTTPS on a loopback port), for blob tests.

The ARM API stays on ``httpx2.ASGITransport`` (as in every integration test); the blob endpoint is
served by uvicorn in the test's event loop, because the unmodified ``azure-storage-blob`` SDK needs
a real URL, and over TLS, since azure-core sends bearer tokens over HTTPS only. Azurite is the real
process (``tools/azurite/install.sh`` installs it; this module runs the script if it is missing).

Virtual-host-style URLs (``https://<account>.blob.core.tether.localhost:<port>``) need those names to reach
the endpoint: ``loopback_names`` is the stand-in for the wildcard DNS record (or /etc/hosts lines) a real
install has. It answers them with 127.0.0.1 in this process and refuses every other name that is
not an address or ``localhost``, so no test ever asks a DNS server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from tether import pki
from tether.api.server import bind
from tether.settings import StorageSettings
from tether.storage.azurite import default_azurite_bin
from tether.storage.gateway import create_blob_app
from tether.testing.server import InProcessServer, in_process_server, settings_for_tests

REPO = Path(__file__).resolve().parents[3]


def ensure_azurite() -> Path:
    """The pinned Azurite, installed by the repo's script when it is not cached yet."""
    found = default_azurite_bin()
    if not found.exists():
        printed = subprocess.run(
            [str(REPO / "tools" / "azurite" / "install.sh")], check=True, capture_output=True, text=True
        )
        found = Path(printed.stdout.strip().splitlines()[-1])
    return found


@dataclass
class BlobServer:
    server: InProcessServer
    blob_url: str
    ca_file: Path

    def account_url(self, account: str) -> str:
        return f"{self.blob_url}/{account}"

    def virtual_host_url(self, account: str) -> str:
        """The account's URL as azure-ai-ml builds it: ``https://<account>.blob.<cloud storage suffix>``."""
        return f"https://{account}.blob.{self.server.services.settings.storage.cloud_storage_suffix()}"


@contextmanager
def loopback_names(suffix: str) -> Iterator[None]:
    """Resolve ``*<suffix>`` to 127.0.0.1 in this process (a test double for a wildcard DNS record); any
    other name but ``localhost`` is refused, so nothing here reaches a DNS server."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.lower().endswith(suffix):
            return real("127.0.0.1", port, *args, **kwargs)
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(name)
            return real(host, port, *args, **kwargs)
        if name == "localhost":
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"{name} is not a loopback name (tests never use DNS)")

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


@asynccontextmanager
async def blob_server(data_dir: Path) -> AsyncIterator[BlobServer]:
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = pki.create_ca("Tether test CA")
    virtual_hosts = "*" + StorageSettings().virtual_host_suffix()
    serving = pki.issue_certificate(
        ca, "tether-blob", dns_names=["localhost", virtual_hosts], ip_addresses=["127.0.0.1"]
    )
    ca_file, cert, key = data_dir / "blob-ca.pem", data_dir / "blob.pem", data_dir / "blob-key.pem"
    pki.write_pem(ca_file, ca.cert_pem)
    pki.write_pem(cert, serving.cert_pem)
    pki.write_pem(key, serving.key_pem, private=True)
    sock = bind("127.0.0.1", 0)
    blob_url = f"https://127.0.0.1:{sock.getsockname()[1]}"
    settings = settings_for_tests(data_dir)
    settings = settings.model_copy(
        update={
            "storage": StorageSettings(blob_public_url=blob_url, azurite_bin=await asyncio.to_thread(ensure_azurite))
        }
    )
    try:
        async with in_process_server(data_dir, settings=settings) as server:
            config = uvicorn.Config(
                create_blob_app(server.services.blobs),
                ssl_certfile=str(cert),
                ssl_keyfile=str(key),
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
            uv = uvicorn.Server(config)
            uv.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # the test runner owns signals
            task = asyncio.create_task(uv.serve(sockets=[sock]))
            while not uv.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
            try:
                yield BlobServer(server, blob_url, ca_file)
            finally:
                uv.should_exit = True
                await task
    finally:
        sock.close()
