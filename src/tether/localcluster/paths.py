"""The on-disk layout of one local cluster's state directory, and the default locations.

Everything a cluster owns lives under one directory (certificates, etcd data, logs, pid files,
kubeconfigs), so ``down --purge`` or deleting the folder removes it completely. Pure path arithmetic:
the callers (CLI, fixtures) pass in ``$XDG_STATE_HOME``/``$XDG_CACHE_HOME`` equivalents.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_CLUSTER_NAME = "tether"


def default_state_dir(state_home: Path, name: str) -> Path:
    """``<state_home>/tether/local-clusters/<name>`` (state_home is ``$XDG_STATE_HOME`` or ``~/.local/state``)."""
    return state_home / "tether" / "local-clusters" / name


@dataclass(frozen=True)
class ClusterPaths:
    """Named paths inside a cluster's state directory."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def kubeconfigs(self) -> Path:
        return self.root / "kubeconfigs"

    @property
    def admin_kubeconfig(self) -> Path:
        """The cluster-admin kubeconfig (client certificate in ``system:masters``, data embedded)."""
        return self.root / "kubeconfig"

    @property
    def kwok_config(self) -> Path:
        return self.root / "kwok" / "kwok.yaml"

    @property
    def pod_logs(self) -> Path:
        """Container log files served by kwok for ``pods/log`` (CRI log format)."""
        return self.root / "pod-logs"

    @property
    def home(self) -> Path:
        """``$HOME`` of the components, so no user-level config (e.g. ``~/.kwok``) leaks in."""
        return self.root / "home"

    @property
    def state_file(self) -> Path:
        """``cluster.json``: name, API server URL, ports, binaries and node counts of the last ``up``."""
        return self.root / "cluster.json"

    def component_log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pid_file(self, component: str) -> Path:
        return self.run / f"{component}.pid"

    def component_kubeconfig(self, component: str) -> Path:
        return self.kubeconfigs / f"{component}.kubeconfig"
