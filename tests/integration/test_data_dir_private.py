"""The data directory is private to the server's user, and signing keys are sealed at rest.

Before: ``tether.db`` (with its plain-PEM signing keys) was 0644 in a 0755 directory, so any local
user could read a key and mint Owner tokens. The read is attempted here as ``nobody`` (the tests run
as root, which reads anything: ``setpriv`` drops to an unprivileged user for that one command).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tether.api.app import build_services
from tether.api.server import prepare
from tether.crypto import SecretBox
from tether.identity.keys import KeyRing, _new_private_pem
from tether.settings import ServerSettings, Settings, StorageSettings
from tether.store import Store, signing_keys

AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory whose parents ``nobody`` may traverse (pytest's own tmp_path is 0700)."""
    saved_umask = os.umask(0o022)  # a usual login umask; the server must not depend on it
    parent = Path(tempfile.mkdtemp(prefix="tether-perm-"))
    parent.chmod(0o755)
    try:
        yield parent / "data"
    finally:
        os.umask(saved_umask)
        shutil.rmtree(parent)


async def start_once(data_dir: Path) -> None:
    """The real start-up path (``tether server`` up to serving): data dir, TLS, store, bootstrap, keys."""
    settings = Settings(server=ServerSettings(data_dir=data_dir, port=0), storage=StorageSettings(blob_port=0))
    prepared = await prepare(settings)
    try:
        services = await build_services(settings, store=prepared.store, public_url=prepared.public_url)
        async with prepared.store.transaction() as session:  # a write, so SQLite has made -wal and -shm
            await signing_keys.retire(session, "no-such-key")
        assert services.keys.signing_key() is not None
        assert (data_dir / "tether.db-wal").exists()
    finally:
        await prepared.close()


def nobody_reads(path: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*AS_NOBODY, "cat", str(path)], capture_output=True, check=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_another_local_user_cannot_read_the_database(data_dir: Path) -> None:
    await start_once(data_dir)

    for name in ("tether.db", "secrets.key", "bootstrap.json"):
        attempt = nobody_reads(data_dir / name)
        assert attempt.returncode != 0, f"nobody read {name}"
        assert b"Permission denied" in attempt.stderr, attempt.stderr
    assert mode(data_dir) == 0o700
    for path in data_dir.iterdir():
        assert mode(path) == 0o600, f"{path.name} is {mode(path):o}"


async def test_a_data_directory_left_readable_by_an_older_version_is_made_private_at_start(data_dir: Path) -> None:
    await start_once(data_dir)
    data_dir.chmod(0o755)
    for path in data_dir.iterdir():
        path.chmod(0o644)
    assert nobody_reads(data_dir / "tether.db").returncode == 0  # the hole this closes

    await start_once(data_dir)

    assert nobody_reads(data_dir / "tether.db").returncode != 0
    assert mode(data_dir) == 0o700
    assert all(mode(path) == 0o600 for path in data_dir.iterdir())


async def test_stored_signing_keys_are_sealed_not_pem(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'tether.db'}")
    secrets = SecretBox.from_key_file(tmp_path / "secrets.key")
    ring = KeyRing(store, secrets=secrets, rotation_age=dt.timedelta(days=30), token_lifetime=dt.timedelta(hours=1))
    try:
        async with store.transaction() as session:  # a key as older versions wrote it: clear PEM
            await signing_keys.add(session, kid="legacy", sealed_pem=_new_private_pem())
        await ring.ensure_current()

        async with store.transaction() as session:
            rows = await signing_keys.list_all(session)
        assert [r.kid for r in rows] == ["legacy"]
        for row in rows:
            assert "PRIVATE KEY" not in row.private_pem
            assert "-----BEGIN" not in row.private_pem
            assert secrets.open(row.private_pem).startswith("-----BEGIN PRIVATE KEY-----")
        assert ring.signing_key().kid == "legacy"

        new_kid = await ring.rotate()
        async with store.transaction() as session:
            rows = await signing_keys.list_all(session)
        assert sorted(r.kid for r in rows) == sorted(["legacy", new_kid])
        assert not any("PRIVATE KEY" in r.private_pem for r in rows)
    finally:
        await store.close()
