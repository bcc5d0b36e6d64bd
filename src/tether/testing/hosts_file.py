"""Loopback names for end-to-end tests: ``127.0.0.1 <name>`` lines in /etc/hosts, removed afterwards.

A real install answers ``<account>.blob.<dns suffix>`` with a wildcard DNS record pointing at the
server; a test that runs an unmodified client in a child process (azure-ai-ml) cannot be handed a
resolver, so it adds one hosts line per name it uses. glibc reads /etc/hosts before DNS
(``hosts: files ...`` in nsswitch.conf), so those names never reach a DNS server.

Hazards: needs root; /etc/hosts is often a bind mount, so it is rewritten in place (never replaced);
only the lines this process added (marked with a per-run tag) are removed, under a lock file, so
concurrent tests editing it keep each other's lines.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOSTS = Path("/etc/hosts")
_LOCK = Path("/tmp/tether-etc-hosts.lock")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,250}[a-z0-9])?$")


@contextmanager
def _locked() -> Iterator[None]:
    with _LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _rewrite(path: Path, text: str) -> None:
    with path.open("r+") as f:  # in place: a bind-mounted /etc/hosts cannot be renamed over
        f.write(text)
        f.truncate()
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def loopback_hosts(names: list[str], *, hosts_file: Path = HOSTS) -> Iterator[None]:
    """``127.0.0.1 <name>`` for each of ``names`` while the block runs; the lines go even if it fails."""
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"not a host name: {name!r}")
    tag = f"# tether-test {secrets.token_hex(4)}"
    added = [f"127.0.0.1 {name} {tag}" for name in names]
    with _locked():
        text = hosts_file.read_text()
        _rewrite(hosts_file, text + ("" if text.endswith("\n") or not text else "\n") + "\n".join(added) + "\n")
    try:
        yield
    finally:
        with _locked():
            kept = [line for line in hosts_file.read_text().splitlines() if not line.endswith(tag)]
            _rewrite(hosts_file, "\n".join(kept) + "\n")
