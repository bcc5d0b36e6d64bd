"""One live tunnel to one connect agent, seen from the control plane: streams, keepalive, flow control.

A :class:`Tunnel` owns a :class:`FrameChannel` (the agent's WebSocket) for its lifetime. ``run`` sends
HELLO, then reads frames and dispatches them to :class:`HubStream` objects (one per HTTP exchange)
until the peer goes away, a frame is malformed, keepalive fails, or someone calls ``end``. The reader
never waits on a stream's consumer: response bodies are queued per stream, bounded by the window the
hub grants (credit flows back as the consumer reads), so a slow watch stalls only itself.

Keepalive: a PING every ``ping_interval_s``; any frame counts as a sign of life; nothing for
``idle_timeout_s`` ends the tunnel with ``CLOSE_KEEPALIVE_TIMEOUT``. Hazards: stream failures are
delivered as :class:`StreamFailed` (the transport maps them to user-facing errors); a consumer that
neither reads nor closes a streaming response keeps up to one window of memory until the tunnel ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Protocol

from tether.protocol.tunnel.codec import BODY_CHUNK, MAX_STREAM_ID, MalformedFrame, decode_frames, encode_frames
from tether.protocol.tunnel.connection import (
    CLOSE_GOING_AWAY,
    CLOSE_KEEPALIVE_TIMEOUT,
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
)
from tether.protocol.tunnel.frames import (
    Frame,
    Headers,
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

#: Request body bytes sent together with the head (and the end) in one message.
_BATCH_BYTES = 4 * BODY_CHUNK


class ChannelClosed(Exception):
    """The WebSocket under a tunnel is gone; nothing more can be sent."""


class FrameChannel(Protocol):
    """The transport of one tunnel: binary WebSocket messages, one frame each."""

    async def send(self, message: bytes) -> None:
        """Send one message; raises :class:`ChannelClosed` once the connection is gone."""

    async def receive(self) -> bytes | None:
        """The next message, or ``None`` once the peer has gone; raises MalformedFrame for text."""

    async def close(self, code: int, reason: str) -> None:
        """Close with a WebSocket close code; never raises for an already closed connection."""


@dataclass(frozen=True)
class TunnelSettings:
    ping_interval_s: float
    idle_timeout_s: float
    window: int


@dataclass(frozen=True)
class TunnelEnd:
    """Why a tunnel ended: the close code sent to the agent (unless it was the one to leave)."""

    code: int
    reason: str
    peer_left: bool = False


class StreamFailed(Exception):
    """A stream ended without a complete response: reset by either side, or its tunnel ended."""

    def __init__(self, message: str, *, code: ResetCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class HubStream:
    """One HTTP exchange in a tunnel, from the hub's side: the response head, then body chunks."""

    def __init__(self, tunnel: Tunnel, stream_id: int) -> None:
        self.id = stream_id
        self._tunnel = tunnel
        self._head: ResponseHead | None = None
        self._chunks: deque[bytes] = deque()
        # Set on any news for the consumer (head, body, end, failure). One event rather than a future
        # per head: a waiter is woken in one step, and a timed-out wait leaves nothing cancelled behind.
        self._ready = asyncio.Event()
        self._buffered = 0
        self._unacked = 0
        self._finished = False  # RESPONSE_END arrived
        self._failure: StreamFailed | None = None
        self.open = True  # still registered in the tunnel

    # --- called by the tunnel's reader (never blocks) ------------------------------------------
    def on_head(self, head: ResponseHead) -> None:
        if self._head is not None:
            raise MalformedFrame(f"second RESPONSE_HEAD on stream {self.id}")
        self._head = head
        self._ready.set()

    def on_body(self, data: bytes) -> None:
        if self._head is None or self._finished:
            raise MalformedFrame(f"RESPONSE_BODY on stream {self.id} outside its response")
        self._buffered += len(data)
        if self._buffered > self._tunnel.settings.window:
            raise MalformedFrame(f"agent overran the flow-control window on stream {self.id}")
        self._chunks.append(data)
        self._ready.set()

    def on_end(self) -> None:
        if self._head is None:
            raise MalformedFrame(f"RESPONSE_END on stream {self.id} before its RESPONSE_HEAD")
        self._finished = True
        self._ready.set()

    def fail(self, failure: StreamFailed) -> None:
        if self._failure is None and not self._finished:
            self._failure = failure
        self.open = False
        self._ready.set()

    # --- called by the consumer ---------------------------------------------------------------
    async def response_head(self, *, timeout: float | None) -> ResponseHead:
        """The agent's response head; StreamFailed, or TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while self._head is None:
                if self._failure is not None:
                    raise self._failure
                self._ready.clear()
                await self._ready.wait()
        return self._head

    async def read(self, *, timeout: float | None) -> bytes | None:
        """The next body chunk, ``None`` at the end; StreamFailed, or TimeoutError when nothing comes."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                self._unacked += len(chunk)
                if self._unacked >= self._tunnel.settings.window // 4 and not self._finished:
                    increment, self._unacked = self._unacked, 0
                    with contextlib.suppress(ChannelClosed):
                        await self._tunnel.send(Window(self.id, increment))
                return chunk
            if self._finished:
                self._tunnel.forget(self)
                return None
            if self._failure is not None:
                raise self._failure
            self._ready.clear()
            async with asyncio.timeout(timeout):
                await self._ready.wait()

    async def cancel(self, reason: str) -> None:
        """Give up on the stream: the agent stops forwarding it (RESET CANCEL) unless it had ended."""
        if not self.open:
            return
        self._tunnel.forget(self)
        self.fail(StreamFailed(f"stream cancelled: {reason}", code=ResetCode.CANCEL))
        if not self._finished:
            with contextlib.suppress(ChannelClosed):
                await self._tunnel.send(Reset(self.id, ResetCode.CANCEL, reason))


class Tunnel:
    """A live, authenticated tunnel to one agent; many concurrent streams over one channel."""

    def __init__(self, *, cluster_key: str, channel: FrameChannel, settings: TunnelSettings, session: str) -> None:
        self.cluster_key = cluster_key
        self.session = session
        self.settings = settings
        self._channel = channel
        self._streams: dict[int, HubStream] = {}
        self._next_id = 1
        self._send_lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        self._last_seen = loop.time()
        self._ended: asyncio.Future[TunnelEnd] = loop.create_future()
        #: Set by the tunnel's owner (the hub) once ``run`` returned and the tunnel is forgotten.
        self.retired = asyncio.Event()
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._ping_ids = itertools.count(1)

    @property
    def alive(self) -> bool:
        return not self._ended.done()

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def end(self, code: int, reason: str, *, peer_left: bool = False) -> None:
        """Ask the tunnel to end (idempotent); ``run`` then fails every stream and returns."""
        if not self._ended.done():
            self._ended.set_result(TunnelEnd(code, reason, peer_left))

    async def run(self) -> TunnelEnd:
        """Serve the tunnel until it ends; always fails the open streams before returning."""
        reader = asyncio.create_task(self._read_loop(), name=f"relay-read:{self.cluster_key}")
        keeper = asyncio.create_task(self._keepalive(), name=f"relay-keepalive:{self.cluster_key}")
        try:
            await self.send(
                Hello(
                    session=self.session,
                    ping_interval_s=self.settings.ping_interval_s,
                    idle_timeout_s=self.settings.idle_timeout_s,
                    window=self.settings.window,
                )
            )
            return await asyncio.shield(self._ended)
        except ChannelClosed:
            self.end(CLOSE_NORMAL, "the agent disconnected", peer_left=True)
            return self._ended.result()
        finally:
            self.end(CLOSE_GOING_AWAY, "the relay is shutting down")
            for task in (reader, keeper):
                task.cancel()
            await asyncio.gather(reader, keeper, return_exceptions=True)
            ending = self._ended.result()
            failure = StreamFailed(f"the tunnel to cluster '{self.cluster_key}' ended: {ending.reason}")
            for stream in list(self._streams.values()):
                stream.fail(failure)
            self._streams.clear()
            for waiter in self._pongs.values():
                waiter.cancel()

    # --- streams ------------------------------------------------------------------------------
    async def open_stream(self, *, method: str, target: str, headers: Headers, body: AsyncIterable[bytes]) -> HubStream:
        """Register a stream and send the request (head, body pieces, end)."""
        if not self.alive:
            raise StreamFailed(f"the tunnel to cluster '{self.cluster_key}' has ended")
        stream = HubStream(self, self._allocate_id())
        self._streams[stream.id] = stream
        try:
            # Coalesce: a small request (the usual case) is one message, whatever the socket's Nagle setting.
            batch: list[Frame] = [RequestHead(stream.id, method, target, headers)]
            batched = 0
            async for chunk in body:
                for start in range(0, len(chunk), BODY_CHUNK):
                    piece = chunk[start : start + BODY_CHUNK]
                    if batched + len(piece) > _BATCH_BYTES:
                        await self.send(*batch)
                        batch, batched = [], 0
                    batch.append(RequestBody(stream.id, piece))
                    batched += len(piece)
            batch.append(RequestEnd(stream.id))
            await self.send(*batch)
        except ChannelClosed:
            self.forget(stream)
            raise StreamFailed(f"the tunnel to cluster '{self.cluster_key}' ended while sending") from None
        except BaseException:
            await stream.cancel("the request could not be sent")
            raise
        return stream

    def forget(self, stream: HubStream) -> None:
        if self._streams.get(stream.id) is stream:
            del self._streams[stream.id]
        stream.open = False

    def _allocate_id(self) -> int:
        while True:
            candidate = self._next_id
            self._next_id = 1 if candidate >= MAX_STREAM_ID else candidate + 1
            if candidate not in self._streams:
                return candidate

    # --- I/O ----------------------------------------------------------------------------------
    async def send(self, *frames: Frame) -> None:
        """Send ``frames`` as one WebSocket message; ChannelClosed once the tunnel has ended."""
        if not self.alive:
            raise ChannelClosed(f"the tunnel to cluster '{self.cluster_key}' has ended")
        message = encode_frames(frames)
        async with self._send_lock:
            await self._channel.send(message)

    async def probe(self, *, timeout: float) -> bool:
        """Whether the agent answers a PING within ``timeout`` seconds."""
        opaque = next(self._ping_ids).to_bytes(8, "big")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[opaque] = waiter
        try:
            await self.send(Ping(opaque))
            async with asyncio.timeout(timeout):
                await waiter
            return True
        except (TimeoutError, ChannelClosed, asyncio.CancelledError) as e:
            if isinstance(e, asyncio.CancelledError) and not waiter.cancelled():
                raise
            return False
        finally:
            self._pongs.pop(opaque, None)

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                message = await self._channel.receive()
                if message is None:
                    self.end(CLOSE_NORMAL, "the agent disconnected", peer_left=True)
                    return
                self._last_seen = loop.time()
                for frame in decode_frames(message):
                    await self._dispatch(frame)
        except MalformedFrame as e:
            log.warning("relay: protocol error from the agent of %s: %s", self.cluster_key, e.message)
            self.end(CLOSE_PROTOCOL_ERROR, f"protocol error: {e.message}"[:120])
        except ChannelClosed:
            self.end(CLOSE_NORMAL, "the agent disconnected", peer_left=True)

    async def _dispatch(self, frame: Frame) -> None:
        match frame:
            case ResponseHead(stream_id=sid):
                if (stream := self._streams.get(sid)) is not None:
                    stream.on_head(frame)
            case ResponseBody(stream_id=sid, data=data):
                if (stream := self._streams.get(sid)) is not None:
                    stream.on_body(data)
            case ResponseEnd(stream_id=sid):
                if (stream := self._streams.get(sid)) is not None:
                    stream.on_end()
            case Reset(stream_id=sid, code=code, reason=reason):
                if (stream := self._streams.pop(sid, None)) is not None:
                    stream.fail(StreamFailed(reason or code.name, code=code))
            case Ping(opaque=opaque):
                with contextlib.suppress(ChannelClosed):
                    await self.send(Pong(opaque))
            case Pong(opaque=opaque):
                waiter = self._pongs.get(opaque)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            case _:
                raise MalformedFrame(f"the agent may not send {type(frame).__name__} frames")

    async def _keepalive(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.ping_interval_s
        tick = min(interval, self.settings.idle_timeout_s) / 4
        last_ping = loop.time()
        while self.alive:
            await asyncio.sleep(tick)
            now = loop.time()
            idle = now - self._last_seen
            if idle > self.settings.idle_timeout_s:
                log.warning("relay: no sign of life from the agent of %s for %.1f s", self.cluster_key, idle)
                self.end(CLOSE_KEEPALIVE_TIMEOUT, f"keepalive timeout: nothing from the agent for {idle:.1f} s")
                return
            if now - last_ping >= interval:
                last_ping = now
                try:
                    await self.send(Ping(next(self._ping_ids).to_bytes(8, "big")))
                except ChannelClosed:
                    self.end(CLOSE_NORMAL, "the agent disconnected", peer_left=True)
                    return
