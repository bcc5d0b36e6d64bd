"""Pinned versions of the local cluster's binaries and where the build puts them.

Mirrors ``tools/kube/versions.env`` and the cache-key logic of ``tools/kube/build.sh`` so that an
installed package finds the binaries without the repository; ``tests/unit/test_kube_versions.py``
fails when the two drift apart. Pure: callers pass the cache home (``$XDG_CACHE_HOME`` or
``~/.cache``), nothing here reads the environment.
"""

from __future__ import annotations

from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"

#: The programs ``tools/kube/build.sh`` builds, all required to start a local cluster.
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok")


def cache_key() -> str:
    """The directory name that identifies one set of pinned versions (same as build.sh)."""
    return f"k8s-{KUBERNETES_VERSION}_etcd-{ETCD_VERSION}_kwok-{KWOK_VERSION}"


def default_bin_dir(cache_home: Path) -> Path:
    """Where build.sh puts the binaries, given ``$XDG_CACHE_HOME`` (or ``~/.cache``)."""
    return cache_home / "tether" / "kube" / cache_key() / "bin"
