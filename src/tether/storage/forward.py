"""Forwarding a blob request to Azurite and its answer back, streaming both bodies (never buffered whole).

The path and query go upstream byte for byte (``raw_path``): a Shared Key signature covers the path,
and re-encoding a blob name would both break it and address another blob. Hop-by-hop headers and
``Host`` stay behind (except a virtual host's name, see ``forward``); everything else, ``x-ms-*`` and
``Content-Length`` included, passes unchanged.
"""

from __future__ import annotations

import socket

import httpx2
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

_HOP_BY_HOP = {
    b"host",
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"te",
    b"trailer",
    b"upgrade",
}


def upstream_client() -> httpx2.AsyncClient:
    """One pooled client for every Azurite process; generous timeouts for 64 MB blocks on a slow disk."""
    limits = httpx2.Limits(max_connections=200, max_keepalive_connections=50)
    # Small requests must not wait for Nagle's algorithm against Azurite's delayed ACKs (~40 ms each).
    transport = httpx2.AsyncHTTPTransport(limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx2.AsyncClient(timeout=httpx2.Timeout(300.0, connect=10.0), transport=transport)


async def forward(
    client: httpx2.AsyncClient,
    request: Request,
    *,
    upstream: str,
    extra_query: str | None = None,
    drop_authorization: bool = False,
    virtual_host: str | None = None,
) -> Response:
    """``virtual_host``: the client's ``Host`` of a virtual-host-style request (``<account>.blob.<suffix>``),
    sent on so Azurite takes the account from it as Azure does (and signs Shared Key over ``/<account><path>``)."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string", b"").decode("latin-1")
    if extra_query:
        query = f"{query}&{extra_query}" if query else extra_query
    url = upstream + raw_path.decode("latin-1") + (f"?{query}" if query else "")
    headers = [
        (name, value)
        for name, value in request.headers.raw
        if name.lower() not in _HOP_BY_HOP and not (drop_authorization and name.lower() == b"authorization")
    ]
    if virtual_host is not None:
        headers.append((b"host", virtual_host.encode("latin-1")))
    declared = request.headers.get("content-length")
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    content = request.stream() if chunked or (declared is not None and declared != "0") else None
    upstream_request = client.build_request(request.method, httpx2.URL(url), headers=headers, content=content)
    answer = await client.send(upstream_request, stream=True)
    body = answer.aiter_raw()
    response = StreamingResponse(body, status_code=answer.status_code, background=BackgroundTask(answer.aclose))
    response.raw_headers = [(k, v) for k, v in answer.headers.raw if k.lower() not in _HOP_BY_HOP]
    return response
