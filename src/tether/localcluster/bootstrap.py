"""Readiness probes and the one-time objects a fresh local cluster needs.

Probes: etcd's ``/health`` and the API server's ``/readyz`` are read unauthenticated with httpx2 (the only
raw HTTP here; everything else goes through lightkube). Objects, applied idempotently with server-side
apply so ``up`` on an existing cluster converges:

* a ClusterRoleBinding that lets ``system:unauthenticated`` read the service-account issuer's OIDC
  discovery document and JWKS (token exchanges fetch them without credentials);
* kwok's ``Logs`` CRD (per-pod log files, see ``podlogs``);
* the simulated nodes (extra nodes from an earlier, larger ``up`` are deleted).

Every wait takes a ``check`` callback that raises when a component died, so a crash surfaces at once
with the component's log instead of as a timeout.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import httpx2
import yaml
from lightkube import AsyncClient
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import RoleRef, Subject
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace, Node, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRoleBinding

from tether.localcluster.errors import ClusterNotReady
from tether.localcluster.nodes import MANAGED_BY_LABEL, MANAGED_BY_VALUE

FIELD_MANAGER = "tether-local-cluster"
DISCOVERY_BINDING = "tether:service-account-issuer-discovery:unauthenticated"
_POLL_SECONDS = 0.2

Check = Callable[[], None]


async def wait_for(what: str, probe: Callable[[], Awaitable[bool]], *, check: Check, deadline: float) -> None:
    """Poll ``probe`` until it returns True; call ``check`` between polls; give up at ``deadline``."""
    while True:
        check()
        if await probe():
            return
        if time.monotonic() > deadline:
            raise ClusterNotReady(f"local cluster: timed out waiting for {what}")
        await asyncio.sleep(_POLL_SECONDS)


def _http_client(ca_file: Path | None) -> httpx2.AsyncClient:
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    return httpx2.AsyncClient(verify=verify, timeout=2.0, trust_env=False)


async def http_ok(url: str, *, ca_file: Path | None = None) -> bool:
    """Whether an unauthenticated GET of ``url`` answers 2xx (connection errors count as not yet)."""
    async with _http_client(ca_file) as http:
        try:
            response = await http.get(url)
        except httpx2.TransportError:
            return False
        return response.is_success


async def _exists(client: AsyncClient, getter: Callable[[], Awaitable[Any]]) -> bool:
    try:
        await getter()
    except ApiError as e:
        if e.status.code == 404 or (e.status.code or 0) >= 500:
            return False
        raise
    except httpx2.TransportError:  # lightkube's HTTP stack
        return False
    return True


async def wait_for_default_namespace(client: AsyncClient, *, check: Check, deadline: float) -> None:
    await wait_for(
        "the `default` namespace",
        lambda: _exists(client, lambda: client.get(Namespace, "default")),
        check=check,
        deadline=deadline,
    )


async def wait_for_default_service_account(client: AsyncClient, *, check: Check, deadline: float) -> None:
    """The controller-manager creates ``default`` service accounts: proof that it works."""
    await wait_for(
        "the controller-manager (service account default/default)",
        lambda: _exists(client, lambda: client.get(ServiceAccount, "default", namespace="default")),
        check=check,
        deadline=deadline,
    )


async def bind_issuer_discovery_to_unauthenticated(client: AsyncClient) -> None:
    binding = ClusterRoleBinding(
        metadata=ObjectMeta(name=DISCOVERY_BINDING),
        roleRef=RoleRef(
            apiGroup="rbac.authorization.k8s.io",
            kind="ClusterRole",
            name="system:service-account-issuer-discovery",
        ),
        subjects=[Subject(apiGroup="rbac.authorization.k8s.io", kind="Group", name="system:unauthenticated")],
    )
    await client.apply(binding, field_manager=FIELD_MANAGER, force=True)


def _kwok_data(name: str) -> str:
    return resources.files("tether.localcluster").joinpath("kwok", name).read_text()


def kwok_config_text(*, empty_log: Path) -> str:
    """kwok's ``--config``: the packaged node and pod stages plus a fallback ClusterLogs (empty log)."""
    fallback = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterLogs",
        "metadata": {"name": "tether-empty-log"},
        "spec": {"selector": {}, "logs": [{"logsFile": str(empty_log)}]},
    }
    parts = [_kwok_data("node-stages.yaml"), _kwok_data("pod-stages.yaml"), yaml.safe_dump(fallback)]
    return "\n---\n".join(part.strip() for part in parts) + "\n"


async def install_kwok_logs_crd(client: AsyncClient, *, check: Check, deadline: float) -> None:
    crd = from_dict(yaml.safe_load(_kwok_data("logs-crd.yaml")))
    if not isinstance(crd, CustomResourceDefinition):
        raise TypeError("tether/localcluster/kwok/logs-crd.yaml is not a CustomResourceDefinition")
    await client.apply(crd, field_manager=FIELD_MANAGER, force=True)
    name = crd.metadata.name if crd.metadata and crd.metadata.name else "logs.kwok.x-k8s.io"

    async def established() -> bool:
        current = await client.get(CustomResourceDefinition, name)
        conditions = (current.status.conditions if current.status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    await wait_for(f"CRD {name} to be established", established, check=check, deadline=deadline)


async def reconcile_nodes(client: AsyncClient, desired: list[Node], *, kubelet_port: int) -> None:
    """Create (or update) the desired simulated nodes and delete managed nodes no longer wanted.

    Each node's kubelet endpoint is (re)pointed at this run's kwok port: kwok only writes it when a
    node first turns Ready, and the port may have changed since (``pods/log`` goes there).
    """
    wanted = {node.metadata.name for node in desired if node.metadata and node.metadata.name}
    endpoint = {"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}}}}
    for node in desired:
        await client.apply(node, field_manager=FIELD_MANAGER, force=True)
        if node.metadata and node.metadata.name:
            await client.patch(Node.Status, node.metadata.name, endpoint)
    async for node in client.list(Node, labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE}):
        name = node.metadata.name if node.metadata else None
        if name and name not in wanted:
            await client.delete(Node, name)


async def release_node_leases(client: AsyncClient) -> None:
    """Delete the managed nodes' leases left by a previous kwok (its identity changes on every start).

    Without this a restarted kwok waits for the old leases to expire (40 s) before it drives any pod.
    Only called while no kwok runs.
    """
    async for node in client.list(Node, labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE}):
        name = node.metadata.name if node.metadata else None
        if not name:
            continue
        try:
            await client.delete(Lease, name, namespace="kube-node-lease")
        except ApiError as e:
            if e.status.code != 404:
                raise


async def wait_for_node_leases(client: AsyncClient, names: list[str], *, check: Check, deadline: float) -> None:
    """kwok holds a lease for every node: only then does it move pods on them."""

    async def all_held() -> bool:
        held = set()
        async for lease in client.list(Lease, namespace="kube-node-lease"):
            if lease.metadata and lease.spec and lease.spec.holderIdentity:
                held.add(lease.metadata.name)
        return set(names) <= held

    await wait_for("kwok to hold the node leases", all_held, check=check, deadline=deadline)


async def wait_for_nodes_ready(client: AsyncClient, names: list[str], *, check: Check, deadline: float) -> None:
    async def all_ready() -> bool:
        ready: set[str] = set()
        async for node in client.list(Node, labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE}):
            conditions = (node.status.conditions if node.status else None) or []
            if node.metadata and any(c.type == "Ready" and c.status == "True" for c in conditions):
                ready.add(node.metadata.name or "")
        return set(names) <= ready

    await wait_for(f"nodes {', '.join(names)} to be Ready", all_ready, check=check, deadline=deadline)
