"""The connect agent: dial the relay, serve the tunnel, and reconnect with back-off after any cut.

``ConnectAgent.run(stop)`` loops until ``stop`` is set: read the credential (again on every attempt,
so a rotated Secret is picked up), open the WebSocket (TLS verified against ``ca_file`` or the system
store), wait for the relay's HELLO (admission), serve the session, and on any failure wait
``min(cap, base * 2**n)`` seconds with jitter (half to all of it) before the next attempt. The
attempt counter restarts after every admitted session, so a cut is followed by a quick reconnect while
a refused credential settles at the cap. Every state change is logged (logger
``tether.agents.connect``); nothing is printed.

Hazards: refusals (4401/4403/4409) are retried forever — credentials can be re-issued and the other
agent can die; only ``stop`` ends the loop. Stopping closes the WebSocket with 1001, which fails the
control plane's in-flight requests on this cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import ssl
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.version import version as websockets_version

from tether.agents.connect.session import AgentSession, SessionLimits, receive_hello
from tether.agents.connect.upstream import UpstreamConfig, load_upstream, upstream_client
from tether.errors import InvalidRequest, TetherError
from tether.protocol.tunnel.codec import MAX_PAYLOAD, MalformedFrame
from tether.protocol.tunnel.connection import (
    AUTHORIZATION_HEADER,
    CLOSE_ALREADY_CONNECTED,
    CLOSE_GOING_AWAY,
    CLUSTER_HEADER,
    REFUSAL_CODES,
)

log = logging.getLogger("tether.agents.connect")

CredentialSource = str | Callable[[], str]


class AgentState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting to reconnect"
    STOPPED = "stopped"


@dataclass(frozen=True)
class AgentOptions:
    """Timings of the agent; defaults match the hub's (ping 2 s, dead peer within ~6 s)."""

    ping_interval_s: float = 2.0
    ping_timeout_s: float = 4.0
    open_timeout_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 10.0
    limits: SessionLimits = field(default_factory=SessionLimits)


@dataclass(frozen=True)
class CloseInfo:
    """How the last connection ended: the relay's close code and reason, or a local error."""

    code: int | None
    reason: str

    @property
    def refused(self) -> bool:
        return self.code in REFUSAL_CODES


class CredentialError(InvalidRequest):
    """The credential file is missing, empty or readable by other users."""


def credential_from_file(path: Path) -> Callable[[], str]:
    """A credential source that re-reads ``path`` on every call (mounted Secrets rotate in place).

    Refuses files that other users may read or write (chmod 600; group access is allowed for
    Kubernetes Secret volumes mounted with an ``fsGroup``).
    """

    def read() -> str:
        try:
            mode = path.stat().st_mode
            text = path.read_text().strip()
        except OSError as e:
            raise CredentialError(f"cannot read the credential file {path}: {e.strerror}") from e
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            raise CredentialError(f"credential file {path} is accessible by other users; run `chmod 600 {path}`")
        if not text:
            raise CredentialError(f"credential file {path} is empty")
        return text

    return read


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: uniformly between half and all of ``min(cap, base * 2**attempt)``."""
    ceiling = min(cap, base * (2 ** min(attempt, 32)))
    return (rng or random).uniform(ceiling / 2, ceiling)


class ConnectAgent:
    """The tunnel client for one cluster; ``run`` until ``stop`` is set (or the task is cancelled)."""

    def __init__(
        self,
        *,
        relay_url: str,
        cluster_key: str,
        credential: CredentialSource,
        upstream: UpstreamConfig,
        ca_file: Path | str | None = None,
        proxy: str | None = None,
        options: AgentOptions | None = None,
    ) -> None:
        self.relay_url = relay_url
        self.cluster_key = cluster_key
        self._credential = credential
        self._upstream_config = load_upstream(upstream)
        self._ca_file = ca_file
        self._proxy = proxy
        self.options = options or AgentOptions()
        self.state = AgentState.STOPPED
        self.sessions = 0  # connections the relay admitted
        self.last_close: CloseInfo | None = None
        self.session: AgentSession | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        attempt = 0
        try:
            async with upstream_client(self._upstream_config) as upstream:
                while not stop.is_set():
                    connecting = asyncio.create_task(self._connect_once(upstream), name="connect-attempt")
                    stopping = asyncio.create_task(stop.wait(), name="connect-stop")
                    try:
                        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for task in (connecting, stopping):
                            task.cancel()
                        await asyncio.gather(connecting, stopping, return_exceptions=True)
                    if stop.is_set():
                        break
                    attempt = 0 if connecting.result() else attempt + 1
                    delay = backoff_delay(attempt, base=self.options.backoff_base_s, cap=self.options.backoff_cap_s)
                    self._set_state(AgentState.WAITING, f"retrying in {delay:.1f} s")
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await stop.wait()
        finally:
            self._set_state(AgentState.STOPPED, "")

    def _set_state(self, state: AgentState, detail: str) -> None:
        if state is not self.state or detail:
            log.log(
                logging.INFO if state is not AgentState.WAITING else logging.WARNING,
                "connect agent for %s: %s%s",
                self.cluster_key,
                state.value,
                f" ({detail})" if detail else "",
            )
        self.state = state

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.relay_url.startswith("wss://"):
            return None
        return ssl.create_default_context(cafile=str(self._ca_file) if self._ca_file else None)

    def _credential_value(self) -> str:
        return self._credential() if callable(self._credential) else self._credential

    async def _connect_once(self, upstream: httpx2.AsyncClient) -> bool:
        """One connection attempt and, if admitted, its session; True if the relay admitted us."""
        self._set_state(AgentState.CONNECTING, self.relay_url)
        try:
            headers = {CLUSTER_HEADER: self.cluster_key, AUTHORIZATION_HEADER: f"Bearer {self._credential_value()}"}
            async with connect(
                self.relay_url,
                additional_headers=headers,
                ssl=self._ssl_context(),
                proxy=self._proxy,
                compression=None,
                open_timeout=self.options.open_timeout_s,
                ping_interval=self.options.ping_interval_s,
                ping_timeout=self.options.ping_timeout_s,
                close_timeout=2.0,
                max_size=MAX_PAYLOAD + 1024,
                user_agent_header=f"tether-connect-agent websockets/{websockets_version}",
            ) as ws:
                hello = await receive_hello(ws, timeout=self.options.open_timeout_s)
                self.sessions += 1
                self._set_state(AgentState.CONNECTED, f"session {hello.session}")
                self.session = AgentSession(websocket=ws, upstream=upstream, hello=hello, limits=self.options.limits)
                try:
                    await self.session.run()
                except asyncio.CancelledError:
                    await ws.close(CLOSE_GOING_AWAY, "the agent is stopping")
                    self.last_close = CloseInfo(CLOSE_GOING_AWAY, "the agent stopped")
                    raise
                return True  # pragma: no cover - run() only ends by raising
        except ConnectionClosed as e:
            self._record_close(e)
            return self.state is AgentState.CONNECTED
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, MalformedFrame, TetherError) as e:
            message = e.message if isinstance(e, TetherError) else f"{type(e).__name__}: {e}"
            self.last_close = CloseInfo(None, message)
            log.warning("connect agent for %s: cannot connect to %s: %s", self.cluster_key, self.relay_url, message)
            return False
        finally:
            self.session = None

    def _record_close(self, error: ConnectionClosed) -> None:
        frame = error.rcvd
        info = CloseInfo(frame.code, frame.reason) if frame else CloseInfo(None, "the connection was lost")
        self.last_close = info
        if info.code == CLOSE_ALREADY_CONNECTED:
            log.warning(
                "connect agent for %s: another agent is connected for this cluster (%s)", self.cluster_key, info.reason
            )
        elif info.refused:
            log.error(
                "connect agent for %s: the relay refused the connection (%s %s); check the cluster id and the "
                "credential",
                self.cluster_key,
                info.code,
                info.reason,
            )
        else:
            log.warning("connect agent for %s: disconnected (%s %s)", self.cluster_key, info.code or "-", info.reason)


async def run_agent(
    *,
    relay_url: str,
    cluster_key: str,
    credential: CredentialSource,
    upstream: UpstreamConfig,
    ca_file: Path | str | None = None,
    proxy: str | None = None,
    options: AgentOptions | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a connect agent until ``stop`` is set or the task is cancelled.

    ``upstream``: a lightkube ``SingleConfig``, a kubeconfig path, or ``None`` for the in-cluster
    service account. ``credential``: the string, or a callable read on each attempt
    (:func:`credential_from_file`).
    """
    agent = ConnectAgent(
        relay_url=relay_url,
        cluster_key=cluster_key,
        credential=credential,
        upstream=upstream,
        ca_file=ca_file,
        proxy=proxy,
        options=options,
    )
    await agent.run(stop)
