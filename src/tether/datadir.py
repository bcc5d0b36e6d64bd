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
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` (0700) if missing, and make it and the files in it readable by their owner only."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    _restrict(data_dir, PRIVATE_DIR)
    for path in data_dir.iterdir():
        if path.is_file() and not path.is_symlink():
            _restrict(path, PRIVATE_FILE)


def _restrict(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode:
        path.chmod(mode)
        log.warning("%s was mode %o; made it %o (readable by its owner only)", path, current, mode)
