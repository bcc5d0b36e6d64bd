"""The Python copy of the pinned Kubernetes versions matches tools/kube/versions.env (and build.sh's key)."""

from __future__ import annotations

import re
from pathlib import Path

from tether.localcluster import kubeversions

TOOLS_KUBE = Path(__file__).resolve().parents[2] / "tools" / "kube"


def _versions_env() -> dict[str, str]:
    pairs = {}
    for line in (TOOLS_KUBE / "versions.env").read_text().splitlines():
        match = re.fullmatch(r"\s*([A-Z_]+)=(\S+)\s*", line)
        if match:
            pairs[match.group(1)] = match.group(2).strip("\"'")
    return pairs


def test_versions_match_versions_env() -> None:
    env = _versions_env()
    assert env["KUBERNETES_VERSION"] == kubeversions.KUBERNETES_VERSION
    assert env["ETCD_VERSION"] == kubeversions.ETCD_VERSION
    assert env["KWOK_VERSION"] == kubeversions.KWOK_VERSION


def test_cache_key_matches_build_script() -> None:
    build = (TOOLS_KUBE / "build.sh").read_text()
    assert 'key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"' in build
    assert 'out="${XDG_CACHE_HOME:-$HOME/.cache}/tether/kube/$key"' in build
    assert kubeversions.cache_key() == (
        f"k8s-{kubeversions.KUBERNETES_VERSION}_etcd-{kubeversions.ETCD_VERSION}_kwok-{kubeversions.KWOK_VERSION}"
    )
    assert kubeversions.default_bin_dir(Path("/c")) == Path("/c/tether/kube") / kubeversions.cache_key() / "bin"


def test_binaries_match_build_script() -> None:
    build = (TOOLS_KUBE / "build.sh").read_text()
    match = re.search(r"^binaries=\(([^)]*)\)", build, re.MULTILINE)
    assert match is not None
    assert tuple(match.group(1).split()) == kubeversions.BINARIES


def test_node_versions_key_and_binaries_match_build_node_script() -> None:
    env = _versions_env()
    assert env["CONTAINERD_VERSION"] == kubeversions.CONTAINERD_VERSION
    assert env["RUNC_VERSION"] == kubeversions.RUNC_VERSION
    assert env["CNI_PLUGINS_VERSION"] == kubeversions.CNI_PLUGINS_VERSION
    build = (TOOLS_KUBE / "build_node.sh").read_text()
    assert (
        'key="node-${KUBERNETES_VERSION}_containerd-${CONTAINERD_VERSION}_runc-${RUNC_VERSION}'
        '_cni-${CNI_PLUGINS_VERSION}"' in build
    )
    match = re.search(r"^binaries=\(([^)]*)\)", build, re.MULTILINE)
    assert match is not None
    assert tuple(match.group(1).split()) == kubeversions.NODE_BINARIES
    expected = Path("/c/tether/kube") / kubeversions.node_cache_key() / "bin"
    assert kubeversions.default_node_bin_dir(Path("/c")) == expected
