"""The control plane's side of the tunnel as an ``httpx2`` transport, so lightkube works unchanged.

``RelayTransport(resolve, cluster_key)`` sends each request over the cluster's live tunnel (looked up
per request, so one transport survives agent reconnects) and returns a *streaming* response: the body
arrives chunk by chunk as the agent forwards it, and closing the response resets the stream, which
makes the agent close its upstream request (ends a watch or a followed log at the API server).

Errors: before a response head exists, :class:`~tether.relay.errors.ClusterNotReachable` (no agent,
tunnel cut, agent cannot reach its API server); waiting longer than the request's read timeout gives
``httpx2.ReadTimeout``; a cut mid-body gives ``httpx2.ReadError`` (lightkube's watch error handling
applies). Hazards: the read timeout (``request.extensions["timeout"]["read"]``) is the only timeout
honoured; connect/pool timeouts have no meaning over an established tunnel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2

from tether.protocol.tunnel.frames import ResetCode
from tether.relay.errors import ClusterNotReachable
from tether.relay.tunnel import HubStream, StreamFailed, Tunnel

TunnelResolver = Callable[[str], Tunnel]

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)


def _read_timeout(request: httpx2.Request) -> float | None:
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        value = timeouts.get("read")
        return float(value) if value is not None else None
    return None


class _ResponseBody(httpx2.AsyncByteStream):
    """The body of one tunnelled response; ``aclose`` cancels the stream at the agent."""

    def __init__(self, stream: HubStream, *, cluster_key: str, request: httpx2.Request, timeout: float | None) -> None:
        self._stream = stream
        self._cluster_key = cluster_key
        self._request = request
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                chunk = await self._stream.read(timeout=self._timeout)
            except StreamFailed as e:
                raise httpx2.ReadError(
                    f"response from cluster '{self._cluster_key}' broke off: {e.message}", request=self._request
                ) from e
            except TimeoutError:
                await self._stream.cancel("read timeout")
                raise httpx2.ReadTimeout(
                    f"no data from cluster '{self._cluster_key}' within {self._timeout} s", request=self._request
                ) from None
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        await self._stream.cancel("the response was closed")


class RelayTransport(httpx2.AsyncBaseTransport):
    """Sends requests to one connected cluster's API server through its agent's tunnel."""

    def __init__(self, resolve: TunnelResolver, cluster_key: str) -> None:
        self._resolve = resolve
        self.cluster_key = cluster_key

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        tunnel = self._resolve(self.cluster_key)  # raises ClusterNotReachable
        timeout = _read_timeout(request)
        headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower().decode("latin-1") not in _HOP_BY_HOP
        )
        body = request.stream
        if not isinstance(body, httpx2.AsyncByteStream):
            raise TypeError("RelayTransport needs an async request body (use httpx2.AsyncClient)")
        try:
            stream = await tunnel.open_stream(
                method=request.method, target=request.url.raw_path.decode("ascii"), headers=headers, body=body
            )
        except StreamFailed as e:
            raise self._unreachable(e) from e
        try:
            head = await stream.response_head(timeout=timeout)
        except StreamFailed as e:
            raise self._unreachable(e) from e
        except TimeoutError:
            await stream.cancel("read timeout")
            raise httpx2.ReadTimeout(
                f"cluster '{self.cluster_key}' did not answer within {timeout} s", request=request
            ) from None
        except BaseException:
            await stream.cancel("the caller gave up")
            raise
        return httpx2.Response(
            head.status,
            headers=[(n.encode("latin-1"), v.encode("latin-1")) for n, v in head.headers],
            stream=_ResponseBody(stream, cluster_key=self.cluster_key, request=request, timeout=timeout),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _unreachable(self, failure: StreamFailed) -> ClusterNotReachable:
        if failure.code is ResetCode.UPSTREAM_UNREACHABLE:
            message = (
                f"Cluster '{self.cluster_key}' is connected, but its connect agent could not reach the cluster's "
                f"Kubernetes API server: {failure.message}. Check the agent's logs and the API server."
            )
        elif failure.code is not None:
            message = (
                f"The connect agent of cluster '{self.cluster_key}' did not forward the request "
                f"({failure.code.name}): {failure.message}."
            )
        else:
            message = (
                f"Cluster '{self.cluster_key}' became unreachable: {failure.message}. The connect agent "
                "reconnects by itself; check the agent if this persists."
            )
        return ClusterNotReachable(message, target=self.cluster_key)
