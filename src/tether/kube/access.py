"""One way to talk to a cluster: a lightkube ``AsyncClient`` (plus raw HTTP), direct or through the relay.

Managed clusters are reached directly with the kubeconfig the server holds (sealed at rest);
connected clusters through their agent's tunnel, as an ``httpx2`` transport under the same client.
Callers get the same client either way and everything after that is identical. Where the
credentials and tunnels come from is injected (this package does not import the store).

Connections are pooled (``tether.kube.pool``): building one (kubeconfig parse, SSL context, TLS
handshake) cost a large share of the server's CPU when every dispatch, health check and status poll
built its own. One is kept per cluster, kind and timeout; a managed cluster's stored kubeconfig is
still read on every ``connect`` and a changed one (by hash) replaces the pooled connection.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Protocol

import httpx2
import yaml
from lightkube import AsyncClient
from lightkube.config import client_adapter as adapter
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import Cluster, Context, User

from tether.errors import InvalidRequest, Unavailable
from tether.kube.pool import ConnectionPool
from tether.recent import Recent

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
    _closed: bool = dataclass_field(default=False, init=False, repr=False)

    @property
    def closed(self) -> bool:
        return self._closed or self.http.is_closed

    def ca_pem(self) -> str | None:
        """The CA bundle (inline in the kubeconfig) that signs the API server's certificate, if known."""
        data = self.kube.config.cluster.certificate_auth_data
        return base64.b64decode(data).decode() if data else None

    async def close(self) -> None:
        self._closed = True
        await self.kube.close()
        await self.http.aclose()


class ClusterAccess:
    """Connections to clusters by resource key and kind, reused across ``connect`` blocks.

    ``idle_s``: a connection unused for longer is closed (on a later ``connect``). ``aclose`` closes
    them all when the server stops. ``kubeconfig_ttl_s``: how long a stored kubeconfig, once read, is
    used without reading it again (0: read on every ``connect``); a replaced kubeconfig takes that long
    to be noticed, as role assignments do in ``tether.authz``.
    """

    def __init__(
        self,
        *,
        kubeconfigs: KubeconfigSource,
        relay: RelayTransports | None,
        idle_s: float = 300.0,
        kubeconfig_ttl_s: float = 0.0,
    ) -> None:
        self._kubeconfigs = kubeconfigs
        self._relay = relay
        self._pool: ConnectionPool[ClusterConnection] = ConnectionPool(idle_s=idle_s)
        self._read: Recent[str, str] = Recent(kubeconfig_ttl_s)  # cluster key -> kubeconfig

    @asynccontextmanager
    async def connect(
        self, cluster_key: str, *, connected: bool, timeout_s: float = 10.0
    ) -> AsyncIterator[ClusterConnection]:
        """The cluster's pooled connection (left open on exit). ``Unavailable`` when there is no way to reach it."""
        key = (cluster_key.casefold(), connected, timeout_s)
        if connected:
            if self._relay is None:
                raise Unavailable("The relay is not running in this server.", code="ClusterNotReachable")
            # Raises ClusterNotReachable without an agent; the transport resolves the tunnel per request.
            transport = self._relay.transport(cluster_key)
            async with self._pool.lease(
                key, fingerprint="relay", build=lambda: relayed_connection(transport, timeout_s=timeout_s)
            ) as connection:
                yield connection
            return
        text = await self._kubeconfig(cluster_key)
        if text is None:
            await self._pool.forget(cluster_key)
            raise Unavailable(
                f"No credentials are stored for cluster {cluster_key}; register it again with tether aks create.",
                code="ClusterUnauthorized",
            )
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        async with self._pool.lease(
            key, fingerprint=fingerprint, build=lambda: direct_connection(parse_kubeconfig(text), timeout_s=timeout_s)
        ) as connection:
            yield connection

    async def _kubeconfig(self, cluster_key: str) -> str | None:
        if (known := self._read.get(cluster_key.casefold())) is not None:
            return known
        text = await self._kubeconfigs(cluster_key)
        return self._read.put(cluster_key.casefold(), text) if text is not None else None

    async def forget(self, cluster_key: str) -> None:
        """Drop the cluster's pooled connections (closed now, or when the blocks using them exit)."""
        self._read.forget(cluster_key.casefold())
        await self._pool.forget(cluster_key)

    async def aclose(self) -> None:
        """Close every pooled connection (the server is stopping); a later ``connect`` builds a new one."""
        await self._pool.aclose()


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
    reduced = one_context(document, context or document.get("current-context"))
    for entry, fields in (
        (reduced["clusters"], ("certificate-authority",)),
        (reduced["users"], ("client-certificate", "client-key")),
    ):
        for item in entry:
            body = item.get("cluster") or item.get("user") or {}
            for field in fields:
                if body.get(field):
                    raise InvalidRequest(
                        f"The kubeconfig refers to the file '{body[field]}' ({field}); send it with the data inline "
                        "(kubectl config view --raw --flatten --minify), which tether aks create does for you.",
                        code="InvalidKubeconfig",
                    )
    return str(yaml.safe_dump(reduced, sort_keys=False))


def one_context(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A kubeconfig document reduced to its context ``name`` (which must exist), that context's cluster
    and its user: what ``kubectl config view --minify`` keeps."""
    ctx = next(c for c in document.get("contexts") or [] if c.get("name") == name)
    cluster_name, user_name = ctx["context"].get("cluster"), ctx["context"].get("user")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "contexts": [ctx],
        "clusters": [c for c in document.get("clusters") or [] if c.get("name") == cluster_name],
        "users": [u for u in document.get("users") or [] if u.get("name") == user_name],
    }
