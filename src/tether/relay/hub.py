"""The relay endpoint: accepts connect agents' WebSockets and hands out transports to their clusters.

``RelayHub.serve(websocket)`` is the ASGI WebSocket handler (mount it at ``/relay/connect``). The
handshake carries ``X-Tether-Cluster: <cluster key>`` and ``Authorization: Bearer <credential>``; the
injected ``authenticate(cluster_key, credential)`` decides. Refusals are sent as close codes after
accepting (so the agent can read them): 4401 missing/malformed handshake, 4403 credential refused,
4409 another live agent holds the cluster, 4429 too many refused credentials lately (``Throttled``),
1011 ``authenticate`` itself failed, 1001 hub closing.

One tunnel per cluster (keys compare case-insensitively, as ARM ids do). A second agent for a cluster
that already has a tunnel is refused (4409) if the existing tunnel answers a probe PING within
``takeover_probe_s``; otherwise the old tunnel is dropped and the newcomer takes over (a restarted
agent is not locked out by its half-dead predecessor). ``on_status(cluster_key, connected)`` reports
every change, in order per cluster (True when admitted, False when the tunnel ends).

Hazards: ``revoke`` drops the live tunnel but does not stop the agent from dialling again —
``authenticate`` must refuse the old credential from then on. Callbacks run on the connection's
task; a slow ``on_status`` delays admission of that cluster's next agent. Errors raised by callbacks
are logged, never propagated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from tether.errors import Throttled
from tether.protocol.tunnel.codec import MalformedFrame
from tether.protocol.tunnel.connection import (
    AUTHORIZATION_HEADER,
    CLOSE_ALREADY_CONNECTED,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_THROTTLED,
    CLOSE_UNAUTHENTICATED,
    CLUSTER_HEADER,
)
from tether.relay.errors import not_connected
from tether.relay.transport import RelayTransport
from tether.relay.tunnel import ChannelClosed, Tunnel, TunnelSettings

log = logging.getLogger(__name__)

Authenticate = Callable[[str, str], Awaitable[bool]]
OnStatus = Callable[[str, bool], Awaitable[None]]


@dataclass(frozen=True)
class RelaySettings:
    """Timings and limits of the relay; the defaults detect a dead agent within ~6.5 s."""

    ping_interval_s: float = 2.0
    idle_timeout_s: float = 6.0
    #: Response-body bytes an agent may send ahead of the consumer, per stream.
    window: int = 1024 * 1024
    #: How long an existing tunnel has to answer before a second agent for its cluster replaces it.
    takeover_probe_s: float = 2.0
    #: Bound on waiting for a tunnel to wind down in ``revoke`` and ``close``.
    close_timeout_s: float = 5.0


class _WebSocketChannel:
    """A Starlette WebSocket as a tunnel's frame channel."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def send(self, message: bytes) -> None:
        try:
            await self._websocket.send_bytes(message)
        except (WebSocketDisconnect, WebSocketDisconnected, OSError) as e:
            raise ChannelClosed(str(e)) from e

    async def receive(self) -> bytes | None:
        try:
            message = await self._websocket.receive()
        except WebSocketDisconnected:
            return None
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        if data is None:
            raise MalformedFrame("text message on the tunnel; frames are binary messages")
        return bytes(data)

    async def close(self, code: int, reason: str) -> None:
        websocket = self._websocket
        if WebSocketState.DISCONNECTED in (websocket.application_state, websocket.client_state):
            return
        try:
            await websocket.close(code, reason[:120])
        except (WebSocketDisconnect, WebSocketDisconnected, OSError, RuntimeError) as e:
            # RuntimeError: some ASGI servers refuse a close once the peer's close has been processed.
            log.debug("relay: closing an already closed WebSocket: %s", e)


class RelayHub:
    """Live tunnels by cluster key, the WebSocket endpoint that admits agents, and per-cluster transports."""

    def __init__(
        self, *, authenticate: Authenticate, on_status: OnStatus | None = None, settings: RelaySettings | None = None
    ) -> None:
        self._authenticate = authenticate
        self._on_status = on_status
        self.settings = settings or RelaySettings()
        self._tunnel_settings = TunnelSettings(
            ping_interval_s=self.settings.ping_interval_s,
            idle_timeout_s=self.settings.idle_timeout_s,
            window=self.settings.window,
        )
        self._tunnels: dict[str, Tunnel] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing = False

    # --- public surface -----------------------------------------------------------------------
    def connected(self, cluster_key: str) -> bool:
        tunnel = self._tunnels.get(cluster_key.casefold())
        return tunnel is not None and tunnel.alive

    def connected_clusters(self) -> list[str]:
        return [t.cluster_key for t in self._tunnels.values() if t.alive]

    def open_streams(self, cluster_key: str) -> int:
        """In-flight exchanges (requests, watches, log streams) over the cluster's tunnel; 0 if none."""
        tunnel = self._tunnels.get(cluster_key.casefold())
        return tunnel.open_streams if tunnel is not None else 0

    def transport(self, cluster_key: str) -> RelayTransport:
        """An httpx2 transport to the cluster's API server; ClusterNotReachable if no agent is connected.

        The transport looks the tunnel up per request, so it keeps working across agent reconnects
        (and raises ClusterNotReachable for requests made while none is connected).
        """
        self.tunnel(cluster_key)
        return RelayTransport(self.tunnel, cluster_key)

    def tunnel(self, cluster_key: str) -> Tunnel:
        tunnel = self._tunnels.get(cluster_key.casefold())
        if tunnel is None or not tunnel.alive:
            raise not_connected(cluster_key)
        return tunnel

    async def revoke(self, cluster_key: str) -> None:
        """Drop the cluster's live tunnel (4403, credential revoked) and wait until it is gone."""
        tunnel = self._tunnels.get(cluster_key.casefold())
        if tunnel is not None:
            tunnel.end(CLOSE_FORBIDDEN, "the cluster's credential was revoked")
            await self._wait_finished(tunnel)

    async def close(self) -> None:
        """Refuse new agents and drop every tunnel (1001); the agents will retry with back-off."""
        self._closing = True
        tunnels = list(self._tunnels.values())
        for tunnel in tunnels:
            tunnel.end(CLOSE_GOING_AWAY, "the relay is shutting down")
        await asyncio.gather(*(self._wait_finished(t) for t in tunnels))

    # --- the endpoint -------------------------------------------------------------------------
    async def serve(self, websocket: WebSocket) -> None:
        """Handle one agent connection for its whole life (the ASGI WebSocket endpoint)."""
        channel = _WebSocketChannel(websocket)
        cluster_key = (websocket.headers.get(CLUSTER_HEADER) or "").strip()
        authorization = websocket.headers.get(AUTHORIZATION_HEADER) or ""
        scheme, _, credential = authorization.partition(" ")
        await websocket.accept()
        if self._closing:
            await channel.close(CLOSE_GOING_AWAY, "the relay is shutting down; retry later")
            return
        if not cluster_key or scheme.lower() != "bearer" or not credential.strip():
            await channel.close(
                CLOSE_UNAUTHENTICATED, f"send {CLUSTER_HEADER} and '{AUTHORIZATION_HEADER}: Bearer <credential>'"
            )
            return
        try:
            allowed = await self._authenticate(cluster_key, credential.strip())
        except Throttled as e:
            log.warning("relay: throttled an agent for cluster %s: %s", cluster_key, e.message)
            await channel.close(CLOSE_THROTTLED, f"too many refused credentials; retry after {e.retry_after_s} s")
            return
        except Exception:
            log.exception("relay: authenticate() failed for cluster %s", cluster_key)
            await channel.close(CLOSE_INTERNAL_ERROR, "the relay could not check the credential; retrying helps")
            return
        if not allowed:
            log.info("relay: refused an agent for cluster %s: credential not accepted", cluster_key)
            await channel.close(CLOSE_FORBIDDEN, "credential refused for this cluster")
            return
        tunnel = Tunnel(
            cluster_key=cluster_key, channel=channel, settings=self._tunnel_settings, session=secrets.token_hex(8)
        )
        if not await self._admit(tunnel):
            await channel.close(CLOSE_ALREADY_CONNECTED, "another agent is connected for this cluster")
            return
        try:
            ending = await tunnel.run()
        finally:
            await self._retire(tunnel)
            tunnel.retired.set()
        log.info("relay: tunnel to %s ended (%s %s)", cluster_key, ending.code, ending.reason)
        if not ending.peer_left:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.close_timeout_s):
                    await channel.close(ending.code, ending.reason)

    # --- admission and status -----------------------------------------------------------------
    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def _admit(self, tunnel: Tunnel) -> bool:
        key = tunnel.cluster_key.casefold()
        async with self._lock(key):
            existing = self._tunnels.get(key)
            if existing is not None and existing.alive:
                if await existing.probe(timeout=self.settings.takeover_probe_s):
                    log.info("relay: refused a second agent for cluster %s (the first one answers)", tunnel.cluster_key)
                    return False
                log.warning("relay: replacing the unresponsive tunnel of cluster %s", tunnel.cluster_key)
                existing.end(CLOSE_ALREADY_CONNECTED, "replaced by a newer connection of this cluster's agent")
            if existing is not None:
                del self._tunnels[key]
                await self._report(existing.cluster_key, connected=False)
            self._tunnels[key] = tunnel
            log.info("relay: cluster %s connected (session %s)", tunnel.cluster_key, tunnel.session)
            await self._report(tunnel.cluster_key, connected=True)
            return True

    async def _retire(self, tunnel: Tunnel) -> None:
        key = tunnel.cluster_key.casefold()
        async with self._lock(key):
            if self._tunnels.get(key) is tunnel:
                del self._tunnels[key]
                await self._report(tunnel.cluster_key, connected=False)

    async def _report(self, cluster_key: str, *, connected: bool) -> None:
        if self._on_status is None:
            return
        try:
            await self._on_status(cluster_key, connected)
        except Exception:
            log.exception("relay: on_status(%s, %s) failed", cluster_key, connected)

    async def _wait_finished(self, tunnel: Tunnel) -> None:
        try:
            async with asyncio.timeout(self.settings.close_timeout_s):
                await tunnel.retired.wait()
        except TimeoutError:
            log.warning(
                "relay: the tunnel of %s did not wind down within %.0f s",
                tunnel.cluster_key,
                self.settings.close_timeout_s,
            )
