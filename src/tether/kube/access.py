"""One way to talk to a cluster: a lightkube ``AsyncClient`` (plus raw HTTP), direct or through the relay.

Managed clusters are reached directly with the kubeconfig the server holds (sealed at rest);
connected clusters through their agent's tunnel, as an ``httpx2`` transport under the same client.
Callers get the same client either way and everything after that is identical. Where the
credentials and tunnels come from is injected (this package does not import the store).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx2
import yaml
from lightkube import AsyncClient
from lightkube.config import client_adapter as adapter
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import Cluster, Context, User

from tether.errors import InvalidRequest, Unavailable

# Placeholder server for clients that reach the API server through a tunnel: the transport ignores it.
_RELAYED_SERVER = "https://relay.tether.invalid"


class RelayTransports(Protocol):
    """What the relay hub offers: a transport to a connected cluster's API server (or ClusterNotReachable)."""

    def transport(self, cluster_key: str) -> httpx2.AsyncBaseTransport: ...


KubeconfigSource = Callable[[str], Awaitable[str | None]]


def parse_kubeconfig(text: str, *, context: str | None = None) -> SingleConfig:
    """A kubeconfig's chosen (or current) context, with a clear error when it is unusable."""
    try:
        document = yaml.safe_load(text)
        config = KubeConfig.from_dict(document).get(context_name=context)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as e:
        detail = f"context '{context}'" if context else "its current context"
        raise InvalidRequest(
            f"The kubeconfig cannot be used ({detail}): {type(e).__name__}: {e}. "
            "Check it with: kubectl --kubeconfig <file> config view",
            code="InvalidKubeconfig",
        ) from e
    if config is None:
        raise InvalidRequest("The kubeconfig has no usable context.", code="InvalidKubeconfig")
    return config


def server_of(config: SingleConfig) -> str:
    return str(config.cluster.server)


@dataclass
class ClusterConnection:
    """A way into one cluster: ``kube`` for resources, ``http`` (same TLS, auth or tunnel) for paths such as
    ``/version`` and the service-account issuer's discovery document."""

    kube: AsyncClient
    http: httpx2.AsyncClient

    def ca_pem(self) -> str | None:
        """The CA bundle (inline in the kubeconfig) that signs the API server's certificate, if known."""
        data = self.kube.config.cluster.certificate_auth_data
        return base64.b64decode(data).decode() if data else None

    async def close(self) -> None:
        await self.kube.close()
        await self.http.aclose()


class ClusterAccess:
    """Builds connections to clusters by resource key and kind."""

    def __init__(self, *, kubeconfigs: KubeconfigSource, relay: RelayTransports | None) -> None:
        self._kubeconfigs = kubeconfigs
        self._relay = relay

    @asynccontextmanager
    async def connect(
        self, cluster_key: str, *, connected: bool, timeout_s: float = 10.0
    ) -> AsyncIterator[ClusterConnection]:
        """A connection to the cluster, closed on exit. ``Unavailable`` when there is no way to reach it."""
        if connected:
            if self._relay is None:
                raise Unavailable("The relay is not running in this server.", code="ClusterNotReachable")
            connection = relayed_connection(self._relay.transport(cluster_key), timeout_s=timeout_s)
        else:
            text = await self._kubeconfigs(cluster_key)
            if text is None:
                raise Unavailable(
                    f"No credentials are stored for cluster {cluster_key}; register it again with tether aks create.",
                    code="ClusterUnauthorized",
                )
            connection = direct_connection(parse_kubeconfig(text), timeout_s=timeout_s)
        try:
            yield connection
        finally:
            await connection.close()


def direct_connection(config: SingleConfig, *, timeout_s: float = 10.0) -> ClusterConnection:
    timeout = httpx2.Timeout(timeout_s)
    params = ConnectionParams(timeout=timeout, trust_env=False)
    return ClusterConnection(
        kube=AsyncClient(config, timeout=timeout, trust_env=False),
        http=adapter.AsyncClient(config, params),
    )


def relayed_connection(transport: httpx2.AsyncBaseTransport, *, timeout_s: float = 10.0) -> ClusterConnection:
    # The tunnel authenticates to the API server itself (as the agent); the control plane sends no credential.
    config = SingleConfig(
        context_name="relay", context=Context(cluster="relay"), cluster=Cluster(server=_RELAYED_SERVER), user=User()
    )
    timeout = httpx2.Timeout(timeout_s)
    return ClusterConnection(
        kube=AsyncClient(config, timeout=timeout, trust_env=False, transport=transport),
        http=httpx2.AsyncClient(base_url=_RELAYED_SERVER, transport=transport, timeout=timeout),
    )


def minimal_kubeconfig(text: str, *, context: str | None = None) -> str:
    """The kubeconfig reduced to one context (the chosen or current one), its cluster and its user.

    What the server stores for a managed cluster: credentials for other clusters in the user's file are
    not its business. File references (``certificate-authority``, ``client-key``...) must already be
    inlined (``*-data``): the server may not run where the file was.
    """
    parse_kubeconfig(text, context=context)  # same validation and errors as everywhere else
    document = yaml.safe_load(text)
    chosen = context or document.get("current-context")
    ctx = next(c for c in document.get("contexts", []) if c.get("name") == chosen)
    cluster_name, user_name = ctx["context"].get("cluster"), ctx["context"].get("user")
    clusters = [c for c in document.get("clusters", []) if c.get("name") == cluster_name]
    users = [u for u in document.get("users", []) if u.get("name") == user_name]
    for entry, fields in ((clusters, ("certificate-authority",)), (users, ("client-certificate", "client-key"))):
        for item in entry:
            body = item.get("cluster") or item.get("user") or {}
            for field in fields:
                if body.get(field):
                    raise InvalidRequest(
                        f"The kubeconfig refers to the file '{body[field]}' ({field}); send it with the data inline "
                        "(kubectl config view --raw --flatten --minify), which tether aks create does for you.",
                        code="InvalidKubeconfig",
                    )
    reduced = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": chosen,
        "contexts": [ctx],
        "clusters": clusters,
        "users": users,
    }
    return str(yaml.safe_dump(reduced, sort_keys=False))
