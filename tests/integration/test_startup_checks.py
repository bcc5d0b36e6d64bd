"""Start-up refuses what it cannot use, naming the file, and store faults answer 503 with the cause.

Before: a ``bootstrap.json`` naming a tenant the store lacks silently made a second tenant,
subscription and Owner and overwrote the file; a corrupt file or key failed with a bare traceback; a
bad TLS key failed after "serving at" was printed; a read-only database answered a generic 500.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import text

from tests.integration.helpers import API, rg_path
from tether.api.app import build_services
from tether.api.server import prepare
from tether.errors import StartupError
from tether.settings import ServerSettings, Settings, StorageSettings
from tether.store import Store
from tether.testing.server import in_process_server, settings_for_tests


def settings_for(data_dir: Path) -> Settings:
    return Settings(server=ServerSettings(data_dir=data_dir, port=0), storage=StorageSettings(blob_port=0))


async def start_once(data_dir: Path) -> None:
    prepared = await prepare(settings_for(data_dir))
    try:
        await build_services(prepared.settings, store=prepared.store, public_url=prepared.public_url)
    finally:
        await prepared.close()


async def tenant_count(data_dir: Path) -> int:
    store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'tether.db'}")
    try:
        async with store.transaction() as session:
            return int((await session.execute(text("select count(*) from tenants"))).scalar_one())
    finally:
        await store.close()


@pytest.fixture
def umask_kept() -> Iterator[None]:
    saved = os.umask(0o022)
    os.umask(saved)
    yield
    os.umask(saved)


async def test_a_bootstrap_file_of_another_store_is_refused_and_kept(tmp_path: Path, umask_kept: None) -> None:
    data_dir = tmp_path / "data"
    await start_once(data_dir)
    for name in ("tether.db", "tether.db-wal", "tether.db-shm"):  # the store is gone; the file stays
        (data_dir / name).unlink(missing_ok=True)
    before = (data_dir / "bootstrap.json").read_bytes()

    with pytest.raises(StartupError) as refused:
        await start_once(data_dir)

    assert str(data_dir / "bootstrap.json") in refused.value.message
    assert json.loads(before)["tenant_id"] in refused.value.message
    assert (data_dir / "bootstrap.json").read_bytes() == before
    assert await tenant_count(data_dir) == 0


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"tenant_id": "x"}', "\udcff"])
async def test_a_corrupt_bootstrap_file_is_named(tmp_path: Path, umask_kept: None, content: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "bootstrap.json").write_bytes(content.encode("utf-8", "surrogateescape"))

    with pytest.raises(StartupError) as refused:
        await start_once(data_dir)

    assert str(data_dir / "bootstrap.json") in refused.value.message
    assert (data_dir / "bootstrap.json").read_bytes() == content.encode("utf-8", "surrogateescape")


async def test_a_corrupt_secrets_key_is_named(tmp_path: Path, umask_kept: None) -> None:
    data_dir = tmp_path / "data"
    await start_once(data_dir)
    (data_dir / "secrets.key").write_text("not a fernet key")

    with pytest.raises(StartupError) as refused:
        await start_once(data_dir)

    assert str(data_dir / "secrets.key") in refused.value.message


def run_server(data_dir: Path, *, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tether", "server", "--data-dir", str(data_dir), "--port", "0"]
    if as_nobody:
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


async def test_a_bad_tls_key_fails_before_serving_at(tmp_path: Path, umask_kept: None) -> None:
    data_dir = tmp_path / "data"
    await start_once(data_dir)
    (data_dir / "server-key.pem").write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")

    result = run_server(data_dir)

    assert result.returncode == 1, result
    assert "server-key.pem" in result.stderr
    assert "serving at" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


async def test_a_data_directory_the_server_cannot_write_stops_start_up_with_its_name(umask_kept: None) -> None:
    """Run as ``nobody`` against root's directory: read-only to the server (root writes anything)."""
    parent = Path(tempfile.mkdtemp(prefix="tether-ro-"))
    try:
        parent.chmod(0o755)
        data_dir = parent / "data"
        await start_once(data_dir)
        data_dir.chmod(0o755)
        for path in data_dir.iterdir():
            path.chmod(0o644)

        result = run_server(data_dir, as_nobody=True)

        assert result.returncode == 1, result  # not -7 (SIGBUS) nor a traceback
        assert str(data_dir) in result.stderr
        assert "cannot be used" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        shutil.rmtree(parent)


async def test_a_read_only_database_answers_503_with_the_cause(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    async with in_process_server(data_dir) as first, first.client() as client:
        assert (await client.put(rg_path(first.subscription, "rg1"), params=API, json={"location": "x"})).is_success
    read_only = f"sqlite+aiosqlite:///file:{data_dir / 'tether.db'}?mode=ro&uri=true"

    settings = settings_for_tests(data_dir, db_url=read_only)
    async with in_process_server(data_dir, settings=settings) as server, server.client() as client:
        read = await client.get(rg_path(server.subscription, "rg1"), params=API)
        write = await client.put(rg_path(server.subscription, "rg2"), params=API, json={"location": "x"})

    assert read.status_code == 200, read.text
    assert write.status_code == 503, write.text
    assert write.json()["error"]["code"] == "StoreUnavailable"
    assert "readonly" in write.json()["error"]["message"]


def test_a_data_directory_made_read_only_under_a_running_server_answers_503_never_sigbus() -> None:
    """As ``nobody`` (root writes anything): the server's own files turn read-only after start. Connections
    opened since then cannot write; reads go on, writes answer 503 with the cause, the process lives."""
    parent = Path(tempfile.mkdtemp(prefix="tether-ro-"))
    parent.chmod(0o755)
    data_dir = parent / "data"
    data_dir.mkdir()
    shutil.chown(data_dir, "nobody", "nogroup")
    command = [sys.executable, "-m", "tether", "server", "--data-dir", str(data_dir), "--port", "0", "--blob-port", "0"]
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    log_path = parent / "server.log"
    with log_path.open("wb") as log:
        # The admin's requests must run at once (not one at a time, the default per caller) for the server to
        # open new store connections after the change.
        env = {**os.environ, "HOME": str(parent), "TETHER_API__SEATS_PER_CALLER": "24"}
        server = subprocess.Popen(as_nobody, stdout=log, stderr=log, env=env)
    try:
        boot = _bootstrap_when_ready(data_dir / "bootstrap.json", server, log_path)
        context = ssl.create_default_context(cafile=boot["ca_file"])
        with httpx2.Client(base_url=boot["server"], verify=context, timeout=30) as client:
            form = {"grant_type": "client_credentials", "client_id": boot["client_id"]}
            form |= {"client_secret": boot["client_secret"], "scope": f"{boot['server']}/.default"}
            token = client.post(f"/{boot['tenant_id']}/oauth2/v2.0/token", data=form).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            group = rg_path(f"/subscriptions/{boot['subscription_id']}", "rg1")
            assert client.put(group, params=API, json={"location": "x"}, headers=headers).status_code == 201
            subprocess.run(["chmod", "-R", "a-w", str(data_dir)], check=True)

            def read_and_write(n: int) -> tuple[int, int, str]:
                # A client each: new connections make the server open new store connections too.
                with httpx2.Client(base_url=boot["server"], verify=context, timeout=30, headers=headers) as each:
                    read = each.get(group, params=API)
                    written = each.put(f"{group}-{n}", params=API, json={"location": "x"})
                    return read.status_code, written.status_code, written.text

            with ThreadPoolExecutor(24) as pool:
                answers = list(pool.map(read_and_write, range(48)))

        assert server.poll() is None, log_path.read_text()  # alive: no SIGBUS
        assert {read for read, _, _ in answers} == {200}
        refused = [text for _, written, text in answers if written == 503]
        assert refused, "no write met a store connection opened after the change"
        assert all("StoreUnavailable" in t and "readonly" in t for t in refused)
        assert {written for _, written, _ in answers} <= {200, 201, 503}
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run(["chmod", "-R", "u+w", str(parent)], check=False)
        shutil.rmtree(parent)


def _bootstrap_when_ready(path: Path, server: subprocess.Popen[bytes], log_path: Path) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log_path.read_text()
        with contextlib.suppress(OSError, ValueError):
            boot: dict[str, str] = json.loads(path.read_text())
            with contextlib.suppress(httpx2.HTTPError):
                context = ssl.create_default_context(cafile=boot["ca_file"])
                httpx2.get(f"{boot['server']}/metadata/endpoints", params=API, verify=context, timeout=2)
                return boot
        time.sleep(0.2)
    raise AssertionError("the server did not start within 60 s")
