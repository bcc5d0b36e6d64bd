"""An in-process server whose registries really serve: TLS files in the data dir, the real Distribution process.

The ARM API and the registries' token endpoints stay on ``httpx2.ASGITransport`` (the realm the
registries name, ``https://tether.test/oauth2/token``, resolves nowhere); each registry's process
listens on its own loopback port with the data dir's serving certificate (as ``tether server`` makes
it), so real clients (httpx2) talk HTTPS to it. The registry binary is installed by
``tools/registry/install.sh`` (run here when missing).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tether.api.server import ensure_tls
from tether.testing.server import InProcessServer, in_process_server, settings_for_tests

REPO = Path(__file__).resolve().parents[3]


def ensure_registry_tools() -> None:
    if not (shutil.which("docker-registry") and shutil.which("skopeo")):
        subprocess.run([str(REPO / "tools" / "registry" / "install.sh")], check=True, capture_output=True)


@asynccontextmanager
async def registry_server(data_dir: Path) -> AsyncIterator[tuple[InProcessServer, Path]]:
    """The server and the CA file its login servers' certificate chains to."""
    ensure_registry_tools()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings_for_tests(data_dir)
    tls = ensure_tls(data_dir, host="127.0.0.1", blob_virtual_hosts=settings.storage.virtual_host_suffix())
    async with in_process_server(data_dir, settings=settings) as server:
        yield server, tls.ca
