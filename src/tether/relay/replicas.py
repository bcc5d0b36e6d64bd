"""Connected clusters from any replica: the local tunnel when this replica holds it, else the holder, over HTTPS.

A tunnel lives in the memory of the one replica its agent reached. ``ReplicaRelay.transport(key)`` is an
``httpx2`` transport that decides per request: through this replica's own tunnel when it holds it, else
forwarded to the replica that does (found with ``locate``, i.e. the store's ``relay_tunnels`` row), whose
internal endpoint (:mod:`tether.relay.replica_endpoint`) sends it through its tunnel and streams the answer
back. Forwarded requests carry the replicas' shared credential (derived from ``secrets.key``) and the
caller's read timeout. ``revoke`` drops the tunnel wherever it is. Decision 0018 has the design.

Errors: no replica holds a tunnel, the holder cannot be reached, or the holder lost the tunnel meanwhile:
``ClusterNotReachable`` (retrying later may succeed: the agent reconnects to some replica). A holder
location is reused for ``locate_ttl_s`` and forgotten as soon as the holder turns out not to hold it.
Hazards: a request body is streamed once, so a forwarded request is never retried here; callers retry.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable

import httpx2

from tether.recent import Recent
from tether.relay.errors import ClusterNotReachable, not_connected
from tether.relay.hub import RelayHub

log = logging.getLogger(__name__)

#: Where the holder's internal endpoint serves forwarded Kubernetes calls and revocations.
KUBE_PREFIX = "/replica/v1/kube"
REVOKE_PATH = "/replica/v1/revoke"
CREDENTIAL_HEADER = "X-Tether-Replica-Credential"
CLUSTER_HEADER = "X-Tether-Relay-Cluster"
READ_TIMEOUT_HEADER = "X-Tether-Read-Timeout"
#: Set on the holder's 503 when it does not (or no longer) hold the tunnel; the body is the reason.
NOT_HERE_HEADER = "X-Tether-Relay-Not-Here"
#: What the credential is derived for (``SecretBox.derive``); every replica derives the same.
CREDENTIAL_PURPOSE = "tether replica forwarding v1"

Locate = Callable[[str], Awaitable[str | None]]
_DROPPED = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer"})


class ReplicaRelay:
    """Transports to connected clusters whichever replica holds their tunnel; see the module docstring."""

    def __init__(
        self,
        hub: RelayHub,
        *,
        locate: Locate,
        credential: str,
        ca_pem: str | None,
        own_url: str | None,
        locate_ttl_s: float = 2.0,
    ) -> None:
        self.hub = hub
        self._locate = locate
        self._credential = credential
        self._own_url = own_url
        context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
        # One pool of connections to the other replicas, shared by every forwarded call.
        self._http = httpx2.AsyncHTTPTransport(verify=context, trust_env=False)
        self._holders: Recent[str, str] = Recent(locate_ttl_s)

    def transport(self, cluster_key: str) -> httpx2.AsyncBaseTransport:
        return _RoutedTransport(self, cluster_key)

    async def revoke(self, cluster_key: str) -> None:
        """Drop the cluster's live tunnel, on this replica or on the one holding it."""
        await self.hub.revoke(cluster_key)
        url = await self.holder_url(cluster_key)
        if url is None:
            return
        target = httpx2.URL(url + REVOKE_PATH)
        request = httpx2.Request(
            "POST", target, headers=[("Host", target.netloc.decode("ascii")), *self._headers(cluster_key)]
        )
        try:
            response = await self._http.handle_async_request(request)
            await response.aread()
        except httpx2.TransportError as e:  # a dead holder's tunnel died with it
            log.warning("relay: could not ask the replica at %s to drop %s's tunnel: %s", url, cluster_key, e)
            return
        if response.status_code >= 300:
            log.warning(
                "relay: the replica at %s answered %s to dropping %s's tunnel", url, response.status_code, cluster_key
            )

    async def holder_url(self, cluster_key: str) -> str | None:
        """The internal URL of the other replica holding the cluster's tunnel (None: none, or this one)."""
        key = cluster_key.casefold()
        if (known := self._holders.get(key)) is not None:
            return known
        url = await self._locate(key)
        if url is None or url == self._own_url:
            return None
        return self._holders.put(key, url)

    def forget(self, cluster_key: str) -> None:
        self._holders.forget(cluster_key.casefold())

    def _headers(self, cluster_key: str) -> list[tuple[str, str]]:
        return [(CREDENTIAL_HEADER, self._credential), (CLUSTER_HEADER, cluster_key)]

    async def forward(self, cluster_key: str, request: httpx2.Request) -> httpx2.Response:
        url = await self.holder_url(cluster_key)
        if url is None:
            raise not_connected(cluster_key)
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.decode("latin-1").lower() not in _DROPPED
        ]
        headers += self._headers(cluster_key)
        timeouts = request.extensions.get("timeout")
        read_timeout = timeouts.get("read") if isinstance(timeouts, dict) else None
        if read_timeout is not None:
            headers.append((READ_TIMEOUT_HEADER, str(read_timeout)))
        target = httpx2.URL(url + KUBE_PREFIX + request.url.raw_path.decode("ascii"))
        headers.insert(0, ("Host", target.netloc.decode("ascii")))
        forwarded = httpx2.Request(
            request.method,
            target,
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._http.handle_async_request(forwarded)
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as e:
            self.forget(cluster_key)
            raise ClusterNotReachable(
                f"Cluster '{cluster_key}' is connected through the server replica at {url}, which cannot be "
                f"reached from this one ({e}). If that replica is gone, the cluster's agent reconnects to another "
                "within seconds; retry.",
                target=cluster_key,
            ) from e
        if response.status_code == 503 and response.headers.get(NOT_HERE_HEADER):
            reason = (await response.aread()).decode(errors="replace")
            await response.aclose()
            self.forget(cluster_key)
            raise ClusterNotReachable(reason, target=cluster_key)
        return httpx2.Response(
            response.status_code,
            headers=response.headers.raw,
            stream=response.stream,
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._http.aclose()


class _RoutedTransport(httpx2.AsyncBaseTransport):
    """One connected cluster: this replica's tunnel if it holds it, else forwarded to the holder (per request)."""

    def __init__(self, relay: ReplicaRelay, cluster_key: str) -> None:
        self._relay = relay
        self.cluster_key = cluster_key

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._relay.hub.connected(self.cluster_key):
            return await self._relay.hub.transport(self.cluster_key).handle_async_request(request)
        return await self._relay.forward(self.cluster_key, request)
