"""One connected session of the agent: read frames from the relay, forward each stream upstream.

``AgentSession.run`` reads the WebSocket until it closes. Every stream (REQUEST_HEAD .. REQUEST_END)
is forwarded to the API server by its own task, which sends the response head, the body in pieces of
at most ``BODY_CHUNK`` bytes as the hub's WINDOW credit allows, then RESPONSE_END — or a RESET saying
why not. A RESET from the hub cancels the task, which closes the upstream response (ending a watch or
a followed log at the API server). The reader never waits on a stream, so one slow consumer stalls only
its own stream.

Hazards: request bodies are buffered whole (``max_request_body``; the API server's own limit is 3 MiB)
before the upstream request starts; frames for unknown streams are ignored (they race a RESET); nothing
from the hub for the HELLO's ``idle_timeout_s`` ends the session (the hub pings every few seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tether.agents.connect.upstream import forwardable_headers, upstream_url
from tether.protocol.tunnel.codec import BODY_CHUNK, MalformedFrame, decode_frame, decode_frames, encode_frames
from tether.protocol.tunnel.connection import CLOSE_KEEPALIVE_TIMEOUT, CLOSE_PROTOCOL_ERROR
from tether.protocol.tunnel.frames import (
    Frame,
    Hello,
    Ping,
    Pong,
    RequestBody,
    RequestEnd,
    RequestHead,
    Reset,
    ResetCode,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    Window,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionLimits:
    max_streams: int = 1024
    max_request_body: int = 16 * 1024 * 1024


class _Credit:
    """Flow-control credit of one stream: RESPONSE_BODY bytes the hub will still accept."""

    def __init__(self, initial: int) -> None:
        self._value = initial
        self._changed = asyncio.Event()
        self.waiting = False

    def grant(self, increment: int) -> None:
        self._value += increment
        self._changed.set()

    async def take(self, wanted: int) -> int:
        while self._value <= 0:
            self._changed.clear()
            self.waiting = True
            try:
                await self._changed.wait()
            finally:
                self.waiting = False
        taken = min(wanted, self._value)
        self._value -= taken
        return taken


class _Stream:
    def __init__(self, head: RequestHead, window: int) -> None:
        self.head = head
        self.body = bytearray()
        self.credit = _Credit(window)
        self.task: asyncio.Task[None] | None = None


class AgentSession:
    """Serves one WebSocket connection to the relay (after its HELLO) until the connection ends."""

    def __init__(
        self,
        *,
        websocket: ClientConnection,
        upstream: httpx2.AsyncClient,
        hello: Hello,
        limits: SessionLimits | None = None,
    ) -> None:
        self._ws = websocket
        self._upstream = upstream
        self._hello = hello
        self._limits = limits or SessionLimits()
        self._streams: dict[int, _Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # every forwarding task, reset ones included
        self._last_seen = 0.0  # loop time of the last message from the relay

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    @property
    def stalled_streams(self) -> int:
        """Streams waiting for the hub's credit (their consumer reads slower than the API server sends)."""
        return sum(1 for s in self._streams.values() if s.credit.waiting)

    async def run(self) -> None:
        """Serve frames until the WebSocket closes; raises ConnectionClosed with the relay's close frame."""
        loop = asyncio.get_running_loop()
        self._last_seen = loop.time()
        watchdog = asyncio.create_task(self._close_when_silent(), name="connect-idle-watchdog")
        try:
            while True:
                message = await self._ws.recv()  # raises ConnectionClosed once the watchdog closed the connection
                self._last_seen = loop.time()
                if isinstance(message, str):
                    await self._ws.close(CLOSE_PROTOCOL_ERROR, "text message on the tunnel")
                    continue
                try:
                    for frame in decode_frames(message):
                        await self._dispatch(frame)
                except MalformedFrame as e:
                    log.warning("connect agent: protocol error from the relay: %s", e.message)
                    await self._ws.close(CLOSE_PROTOCOL_ERROR, e.message[:120])
        finally:
            tasks = [watchdog, *self._tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._streams.clear()

    async def _close_when_silent(self) -> None:
        # One sleeping task rather than a timeout around every recv(): no timer armed per message.
        loop = asyncio.get_running_loop()
        idle_timeout = self._hello.idle_timeout_s
        while True:
            silent = loop.time() - self._last_seen
            if silent >= idle_timeout:
                break
            await asyncio.sleep(idle_timeout - silent)  # the last message may have come meanwhile: check again
        log.warning("connect agent: nothing from the relay for %.1f s", silent)
        await self._ws.close(CLOSE_KEEPALIVE_TIMEOUT, "keepalive timeout")

    async def _send(self, *frames: Frame) -> None:
        """Send ``frames`` as one WebSocket message."""
        await self._ws.send(encode_frames(frames))

    async def _dispatch(self, frame: Frame) -> None:
        match frame:
            case RequestHead(stream_id=sid):
                if sid in self._streams:
                    raise MalformedFrame(f"REQUEST_HEAD for stream {sid}, which is open")
                if len(self._streams) >= self._limits.max_streams:
                    await self._send(Reset(sid, ResetCode.REFUSED, f"over {self._limits.max_streams} open streams"))
                    return
                self._streams[sid] = _Stream(frame, self._hello.window)
            case RequestBody(stream_id=sid, data=data):
                stream = self._streams.get(sid)
                if stream is None:
                    return
                if stream.task is not None:
                    raise MalformedFrame(f"REQUEST_BODY after REQUEST_END on stream {sid}")
                stream.body += data
                if len(stream.body) > self._limits.max_request_body:
                    del self._streams[sid]
                    limit = self._limits.max_request_body
                    await self._send(Reset(sid, ResetCode.REFUSED, f"request body exceeds {limit} bytes"))
            case RequestEnd(stream_id=sid):
                stream = self._streams.get(sid)
                if stream is None:
                    return
                if stream.task is not None:
                    raise MalformedFrame(f"second REQUEST_END on stream {sid}")
                stream.task = asyncio.create_task(self._forward(sid, stream), name=f"connect-stream:{sid}")
                self._tasks.add(stream.task)
                stream.task.add_done_callback(self._tasks.discard)
            case Reset(stream_id=sid):
                stream = self._streams.pop(sid, None)
                if stream is not None and stream.task is not None:
                    stream.task.cancel()
            case Window(stream_id=sid, increment=increment):
                stream = self._streams.get(sid)
                if stream is not None:
                    stream.credit.grant(increment)
            case Ping(opaque=opaque):
                await self._send(Pong(opaque))
            case Pong() | Hello():
                pass
            case _:
                raise MalformedFrame(f"the relay may not send {type(frame).__name__} frames")

    async def _forward(self, sid: int, stream: _Stream) -> None:
        """Forward one request upstream and stream its response back; ends with END or RESET."""
        head = stream.head
        try:
            try:
                request = self._upstream.build_request(
                    head.method,
                    upstream_url(self._upstream, head.target),
                    headers=forwardable_headers(head.headers, request=True),
                    content=bytes(stream.body) if stream.body else None,
                )
            except (httpx2.InvalidURL, ValueError) as e:  # the frame checks pass it, httpx2 does not
                await self._send(Reset(sid, ResetCode.REFUSED, f"cannot forward {head.target!r}: {e}"))
                return
            stream.body.clear()
            try:
                response = await self._upstream.send(request, stream=True)
            except httpx2.HTTPError as e:
                log.warning("connect agent: %s %s failed upstream: %s", head.method, head.target, e)
                await self._send(Reset(sid, ResetCode.UPSTREAM_UNREACHABLE, f"{type(e).__name__}: {e}"))
                return
            try:
                headers = forwardable_headers(
                    ((n.decode("latin-1"), v.decode("latin-1")) for n, v in response.headers.raw), request=False
                )
                response_head = ResponseHead(sid, response.status_code, tuple(headers))
                if _announced_length(response) <= min(BODY_CHUNK, self._hello.window):
                    # A short, complete body (never a watch: those have no Content-Length) goes as one message.
                    body = b"".join([chunk async for chunk in _raw_body(response)])
                    await self._send_whole(sid, stream, response_head, body)
                else:
                    await self._send(response_head)
                    async for chunk in _raw_body(response):
                        await self._send_body(sid, stream, chunk)
                    await self._send(ResponseEnd(sid))
            except httpx2.HTTPError as e:
                await self._send(Reset(sid, ResetCode.UPSTREAM_FAILED, f"{type(e).__name__}: {e}"))
            finally:
                await response.aclose()
        except ConnectionClosed:
            return  # the session is ending; run() notices on its own
        except Exception:  # a bug: say so, and end the stream rather than leave its caller waiting
            log.exception("connect agent: forwarding %s %s failed unexpectedly", head.method, head.target)
            with contextlib.suppress(ConnectionClosed):
                await self._send(Reset(sid, ResetCode.UPSTREAM_FAILED, "the connect agent failed; see its log"))
        finally:
            if self._streams.get(sid) is stream:
                del self._streams[sid]

    async def _send_whole(self, sid: int, stream: _Stream, head: ResponseHead, body: bytes) -> None:
        if not body:
            await self._send(head, ResponseEnd(sid))
        elif len(body) <= min(BODY_CHUNK, self._hello.window):
            await stream.credit.take(len(body))  # a fresh stream holds a whole window: never waits
            await self._send(head, ResponseBody(sid, body), ResponseEnd(sid))
        else:
            await self._send(head)
            await self._send_body(sid, stream, body)
            await self._send(ResponseEnd(sid))

    async def _send_body(self, sid: int, stream: _Stream, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            taken = await stream.credit.take(min(len(view), BODY_CHUNK))
            await self._send(ResponseBody(sid, bytes(view[:taken])))
            view = view[taken:]


def _raw_body(response: httpx2.Response) -> AsyncIterator[bytes]:
    """The response's raw body bytes, leaving the connection checked out until ``response.aclose()``.

    Not ``aiter_raw()``: it returns the connection to the pool (keep-alive checks, pool bookkeeping)
    before it ends, which would delay the RESPONSE_END; ``_forward`` closes the response once it is sent.
    """
    stream = response.stream
    if not isinstance(stream, httpx2.AsyncByteStream):  # pragma: no cover - the agent's client is async
        raise TypeError("the upstream response has no async body stream")
    return aiter(stream)


def _announced_length(response: httpx2.Response) -> float:
    """The response's Content-Length, or infinity when it streams (chunked, watches, followed logs)."""
    length = response.headers.get("content-length", "")
    return int(length) if length.isdigit() else float("inf")


async def receive_hello(websocket: ClientConnection, *, timeout: float) -> Hello:
    """The relay's HELLO, which says the agent was admitted; ConnectionClosed if it was refused."""
    async with asyncio.timeout(timeout):
        message = await websocket.recv()
    frame = decode_frame(message) if isinstance(message, bytes) else None
    if not isinstance(frame, Hello):
        with contextlib.suppress(ConnectionClosed):
            await websocket.close(CLOSE_PROTOCOL_ERROR, "expected HELLO first")
        raise MalformedFrame("the relay's first frame was not HELLO")
    return frame
