"""What the control plane records about a cluster when it registers or reconnects: version, nodes, issuer.

The service-account issuer is what federated credentials of compute identities will trust, so it is
read from the cluster's own discovery document rather than assumed from the API server URL.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import ConfigMap, Namespace, Node

from tether.errors import Unavailable
from tether.kube.access import ClusterConnection

GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class ClusterFacts:
    kubernetes_version: str
    node_count: int
    gpu_node_count: int
    issuer: str | None


def _unreachable(what: str, error: Exception) -> Unavailable:
    return Unavailable(
        f"The cluster's API server did not answer {what}: {type(error).__name__}: {error}. "
        "Check that it is running and reachable from the Tether server.",
        code="ClusterNotReachable",
    )


async def probe(connection: ClusterConnection) -> ClusterFacts:
    """Read the version, node counts and service-account issuer; ``Unavailable`` if the cluster does not answer."""
    try:
        version_response = await connection.http.get("/version")
        version_response.raise_for_status()
        version = str(version_response.json().get("gitVersion", "unknown"))
    except (httpx2.HTTPError, ValueError) as e:
        raise _unreachable("GET /version", e) from e
    try:
        nodes = [n async for n in connection.kube.list(Node)]
    except (ApiError, httpx2.HTTPError) as e:
        raise _unreachable("a list of nodes", e) from e
    gpu_nodes = sum(1 for n in nodes if n.status and n.status.capacity and GPU_RESOURCE in n.status.capacity)
    issuer: str | None = None
    try:
        discovery = await connection.http.get("/.well-known/openid-configuration")
        if discovery.status_code == 200:
            issuer = str(discovery.json().get("issuer")) or None
    except (httpx2.HTTPError, ValueError):
        issuer = None  # optional: a cluster may not serve discovery; federation then needs it configured
    return ClusterFacts(kubernetes_version=version, node_count=len(nodes), gpu_node_count=gpu_nodes, issuer=issuer)


async def ping(connection: ClusterConnection) -> str:
    """The API server's version, or ``Unavailable`` (ClusterNotReachable) saying why it did not answer."""
    try:
        response = await connection.http.get("/version")
        response.raise_for_status()
        return str(response.json().get("gitVersion", "unknown"))
    except (httpx2.HTTPError, ValueError) as e:
        raise _unreachable("GET /version", e) from e


async def namespace_exists(connection: ClusterConnection, name: str) -> bool:
    """Whether the namespace exists (``Unavailable`` if the cluster cannot say)."""
    try:
        await connection.kube.get(Namespace, name)
    except ApiError as e:
        if e.status.code == 404:
            return False
        raise _unreachable(f"GET namespace {name}", e) from e
    except httpx2.HTTPError as e:
        raise _unreachable(f"GET namespace {name}", e) from e
    return True


async def cluster_ca(connection: ClusterConnection) -> str | None:
    """The cluster's CA bundle as it publishes it to every namespace (ConfigMap ``kube-root-ca.crt``)."""
    try:
        config_map = await connection.kube.get(ConfigMap, "kube-root-ca.crt", namespace="default")
    except (ApiError, httpx2.HTTPError):
        return None
    return (config_map.data or {}).get("ca.crt")
