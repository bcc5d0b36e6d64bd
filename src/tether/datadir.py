"""The server's data directory, private to the user who runs the server.

It holds everything an attacker needs to act as the server: the SQLite file (with its ``-wal`` and
``-shm``), ``secrets.key`` (which unseals the signing keys and kubeconfigs in the store), the TLS
keys and ``bootstrap.json`` (the admin's client secret). ``make_private`` runs first at start-up:

* a umask of 077 for the rest of the process, so every file created later (SQLite creates ``-wal``
  and ``-shm`` when it first writes) is 0600 from the start, with no window where it is readable;
* the directory 0700 and every file already in it 0600, fixing data directories created by older
  versions (which left ``tether.db`` 0644 in a 0755 directory).

Hazard: the umask is process-wide. ``tether server`` owns its process; a library embedding the server
should call this only if it wants the same for its own files.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

from tether.errors import StartupError

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` (0700) if missing, make it and its files readable by their owner only, and
    check that the server can write there (``StartupError`` naming the directory otherwise)."""
    os.umask(0o077)
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        _check_writable(data_dir)
        _restrict(data_dir, PRIVATE_DIR)
        for path in data_dir.iterdir():
            if path.is_file() and not path.is_symlink():
                _restrict(path, PRIVATE_FILE)
    except OSError as e:
        raise StartupError(
            f"The data directory {data_dir} cannot be used: {e.strerror or e}. The server must own it and write to "
            "it (SQLite keeps its -wal and -shm files there; on a read-only directory it would fail at the first "
            "request): run the server as the directory's owner, or pick another --data-dir."
        ) from e


def _check_writable(data_dir: Path) -> None:
    with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-check-"):
        pass
    for name in ("tether.db", "tether.db-wal", "tether.db-shm"):
        path = data_dir / name
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise PermissionError(13, "the server cannot read and write it", str(path))


def _restrict(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode:
        path.chmod(mode)
        log.warning("%s was mode %o; made it %o (readable by its owner only)", path, current, mode)
