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
CONTAINERD_VERSION = "v2.4.2"
RUNC_VERSION = "v1.5.3"
CNI_PLUGINS_VERSION = "v1.10.0"

#: The programs ``tools/kube/build.sh`` builds, all required to start a local cluster.
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok")


def cache_key() -> str:
    """The directory name that identifies one set of pinned versions (same as build.sh)."""
    return f"k8s-{KUBERNETES_VERSION}_etcd-{ETCD_VERSION}_kwok-{KWOK_VERSION}"


def default_bin_dir(cache_home: Path) -> Path:
    """Where build.sh puts the binaries, given ``$XDG_CACHE_HOME`` (or ``~/.cache``)."""
    return cache_home / "tether" / "kube" / cache_key() / "bin"


#: The real node's programs, built by ``tools/kube/build_node.sh``.
NODE_BINARIES = ("kubelet", "containerd", "containerd-shim-runc-v2", "ctr", "runc", "loopback")


def node_cache_key() -> str:
    """The directory name of the real node's binaries (same as build_node.sh)."""
    return f"node-{KUBERNETES_VERSION}_containerd-{CONTAINERD_VERSION}_runc-{RUNC_VERSION}_cni-{CNI_PLUGINS_VERSION}"


def default_node_bin_dir(cache_home: Path) -> Path:
    return cache_home / "tether" / "kube" / node_cache_key() / "bin"


def default_images_dir(cache_home: Path) -> Path:
    """The newest build of ``tools/images/build.sh`` (a symlink it maintains)."""
    return cache_home / "tether" / "images" / "current"


def image_references(images_dir: Path) -> list[str]:
    """The locally built images' references, base image first (empty when not built)."""
    try:
        return (images_dir / "references").read_text().split()
    except FileNotFoundError:
        return []
