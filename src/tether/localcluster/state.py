"""``cluster.json``, the record of a local cluster's last ``up``, and the choice of loopback ports.

The record lets ``status``, ``down`` and ``kubeconfig`` (other processes) find a cluster, and lets a
later ``up`` keep the same ports — hence the same API server URL and service-account issuer — so that
kubeconfigs and tokens handed out earlier stay valid. Hazard: a port is only known to be free when it
is picked; another program may take it before the component binds it (the component then dies and
``up`` reports its log).
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from tether.localcluster.components import Ports
from tether.localcluster.paths import ClusterPaths
from tether.processes import loopback_port_is_free


@dataclass(frozen=True)
class ClusterRecord:
    """What ``up`` wrote to ``cluster.json``."""

    name: str
    ports: Ports
    bin_dir: Path
    cpu_nodes: int
    gpu_nodes: int
    real_nodes: int = 0
    node_bin_dir: Path | None = None


def write_record(paths: ClusterPaths, record: ClusterRecord) -> None:
    data = asdict(record)
    data["bin_dir"] = str(record.bin_dir)
    data["node_bin_dir"] = str(record.node_bin_dir) if record.node_bin_dir else None
    data["server"] = record.ports.server_url
    paths.state_file.parent.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text(json.dumps(data, indent=2) + "\n")


def read_record(paths: ClusterPaths) -> ClusterRecord | None:
    """The record of the last ``up``, or None if there is none or it cannot be read."""
    try:
        data = json.loads(paths.state_file.read_text())
        return ClusterRecord(
            name=str(data["name"]),
            ports=Ports(**{k: int(v) for k, v in data["ports"].items()}),
            bin_dir=Path(data["bin_dir"]),
            cpu_nodes=int(data["cpu_nodes"]),
            gpu_nodes=int(data["gpu_nodes"]),
            real_nodes=int(data.get("real_nodes", 0)),
            node_bin_dir=Path(data["node_bin_dir"]) if data.get("node_bin_dir") else None,
        )
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def choose_ports(previous: Ports | None) -> Ports:
    """The previous ports if all are still free, else four fresh free loopback ports."""
    if previous is not None and all(loopback_port_is_free(p) for p in asdict(previous).values()):
        return previous
    with contextlib.ExitStack() as stack:
        picked: list[int] = []
        for _ in range(4):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            picked.append(s.getsockname()[1])
    return Ports(etcd_client=picked[0], etcd_peer=picked[1], apiserver=picked[2], kwok=picked[3])
