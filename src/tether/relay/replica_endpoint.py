"""The holder's side of forwarding: other replicas' Kubernetes calls sent through this replica's tunnels.

``replica_endpoint(hub, credential=...)`` is an ASGI app for the server's *internal* socket only (never the
public one): ``<KUBE_PREFIX>/<kube path>`` runs the request through the named cluster's tunnel and streams
the answer back as it arrives (watches and followed logs included); ``REVOKE_PATH`` drops a tunnel. Every
request must carry the replicas' shared credential (401 otherwise). When this replica does not hold the
tunnel (it ended, or the agent moved) the answer is 503 with ``NOT_HERE_HEADER`` and the reason, which the
forwarder turns into ``ClusterNotReachable``.

Hazards: the forwarder's read timeout arrives as a header and is applied here too, so a stuck cluster
does not keep a request open on this side after the forwarder gave up. When the forwarder disconnects
mid-stream, the tunnelled stream is cancelled (the agent closes its upstream watch or log).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tether.relay.errors import ClusterNotReachable
from tether.relay.hub import RelayHub
from tether.relay.replicas import (
    CLUSTER_HEADER,
    CREDENTIAL_HEADER,
    KUBE_PREFIX,
    NOT_HERE_HEADER,
    READ_TIMEOUT_HEADER,
    REVOKE_PATH,
)

log = logging.getLogger(__name__)

_RELAYED_ORIGIN = "https://relay.tether.invalid"  # the tunnel ignores scheme and host; only the path travels
_NOT_FORWARDED = frozenset(
    {h.lower() for h in (CREDENTIAL_HEADER, CLUSTER_HEADER, READ_TIMEOUT_HEADER)}
    | {"host", "connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer"}
)
_NOT_RETURNED = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer"})


class _RequestBody(httpx2.AsyncByteStream):
    def __init__(self, request: Request) -> None:
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._request.stream():
            if chunk:
                yield chunk


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def replica_endpoint(hub: RelayHub, *, credential: str) -> Starlette:
    """The internal endpoint's ASGI app (see the module docstring)."""

    def allowed(request: Request) -> bool:
        given = request.headers.get(CREDENTIAL_HEADER, "")
        return hmac.compare_digest(given.encode(), credential.encode())

    def not_here(cluster_key: str, reason: str) -> Response:
        return Response(reason, status_code=503, headers={NOT_HERE_HEADER: "1"}, media_type="text/plain")

    async def kube(request: Request) -> Response:
        if not allowed(request):
            return _error(401, "ReplicaCredentialRefused", "Send the replicas' shared credential.")
        cluster_key = request.headers.get(CLUSTER_HEADER, "")
        if not hub.connected(cluster_key):
            return not_here(cluster_key, f"The replica forwarded to no longer holds cluster '{cluster_key}''s tunnel.")
        timeout_text = request.headers.get(READ_TIMEOUT_HEADER)
        read_timeout = float(timeout_text) if timeout_text else None
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1").removeprefix(KUBE_PREFIX) or "/"  # as sent: still percent-encoded
        target = f"{_RELAYED_ORIGIN}{path}" + (f"?{request.url.query}" if request.url.query else "")
        headers = [(n, v) for n, v in request.headers.items() if n.lower() not in _NOT_FORWARDED]
        tunnelled = httpx2.Request(
            request.method,
            target,
            headers=headers,
            stream=_RequestBody(request),
            extensions={"timeout": {"read": read_timeout}},
        )
        try:
            response = await hub.transport(cluster_key).handle_async_request(tunnelled)
        except ClusterNotReachable as e:
            return not_here(cluster_key, e.message)
        except httpx2.ReadTimeout as e:
            return _error(504, "ClusterTimeout", str(e))

        async def body() -> AsyncIterator[bytes]:
            # A tunnel that breaks mid-body raises here, and the server cuts the forwarded answer short too.
            try:
                async for chunk in response.stream:  # type: ignore[union-attr]
                    yield chunk
            finally:
                with anyio.CancelScope(shield=True):  # also when the forwarder went away (cancelled)
                    await response.aclose()

        returned = {n: v for n, v in response.headers.items() if n.lower() not in _NOT_RETURNED}
        return StreamingResponse(body(), status_code=response.status_code, headers=returned)

    async def revoke(request: Request) -> Response:
        if not allowed(request):
            return _error(401, "ReplicaCredentialRefused", "Send the replicas' shared credential.")
        await hub.revoke(request.headers.get(CLUSTER_HEADER, ""))
        return Response(status_code=204)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route(KUBE_PREFIX + "/{path:path}", kube, methods=methods),
            Route(REVOKE_PATH, revoke, methods=["POST"]),
        ]
    )
