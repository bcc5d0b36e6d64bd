"""Errors of the relay, typed so the API maps them (503 ``ClusterNotReachable``) and callers can catch them.

``ClusterNotReachable`` is raised by the hub's transport *before* a response exists: no agent is
connected, the tunnel dropped while the request waited for its response head, or the agent could not
reach its own API server. Once a response is streaming, a cut surfaces as ``httpx2.ReadError`` (the
Kubernetes client's own error path, so lightkube's watch retry policies apply) chained to this error.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.errors import Unavailable


@dataclass
class ClusterNotReachable(Unavailable):
    """A connected cluster cannot be reached through the relay now; retrying later may succeed."""

    code: str = "ClusterNotReachable"


def not_connected(cluster_key: str) -> ClusterNotReachable:
    return ClusterNotReachable(
        f"Cluster '{cluster_key}' is not reachable: its connect agent is not connected to the relay. "
        "Check that the agent runs in the cluster (kubectl -n azure-arc get pods -l app=tether-connect-agent), "
        "that its logs show it connected, and that it can reach this server's relay endpoint.",
        target=cluster_key,
    )
