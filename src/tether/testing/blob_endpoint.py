"""An in-process server whose blob endpoint really listens (HTTPS on a loopback port), for blob tests.

The ARM API stays on ``httpx2.ASGITransport`` (as in every integration test); the blob endpoint is
served by uvicorn in the test's event loop, because the unmodified ``azure-storage-blob`` SDK needs
a real URL, and over TLS, since azure-core sends bearer tokens over HTTPS only. Azurite is the real
process (``tools/azurite/install.sh`` installs it; this module runs the script if it is missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

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


@asynccontextmanager
async def blob_server(data_dir: Path) -> AsyncIterator[BlobServer]:
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = pki.create_ca("Tether test CA")
    serving = pki.issue_certificate(ca, "tether-blob", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
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
