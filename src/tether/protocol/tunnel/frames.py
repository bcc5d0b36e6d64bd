"""The relay tunnel's frames as values: what the control plane (the hub) and a connect agent say.

Every frame belongs to a stream: 0 is the connection itself, 1.. are HTTP exchanges, and only the hub
opens streams. The frame types, who sends them and what they carry::

    REQUEST_HEAD   hub->agent  method, target (origin-form "/path?query"), headers
    REQUEST_BODY   hub->agent  raw bytes
    REQUEST_END    hub->agent  nothing
    RESPONSE_HEAD  agent->hub  status, headers
    RESPONSE_BODY  agent->hub  raw bytes, counted against the stream's window
    RESPONSE_END   agent->hub  nothing
    RESET          both        a :class:`ResetCode` and a reason; ends the stream at once
    WINDOW         hub->agent  credit: the agent may send that many more RESPONSE_BODY bytes
    HELLO          hub->agent  stream 0: session, ping_interval_s, idle_timeout_s, window
    PING / PONG    both        stream 0: 8 opaque bytes echoed back

Header values are Latin-1 decoded strings (HTTP's own octets). This module is pure data;
:mod:`tether.protocol.tunnel.codec` turns frames into bytes and back, and checks them both ways.
Hazard: PING/PONG exist because the hub runs behind ASGI, which cannot send WebSocket pings (the
agent also uses WebSocket's own).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FrameType(enum.IntEnum):
    REQUEST_HEAD = 1
    REQUEST_BODY = 2
    REQUEST_END = 3
    RESPONSE_HEAD = 4
    RESPONSE_BODY = 5
    RESPONSE_END = 6
    RESET = 7
    WINDOW = 8
    HELLO = 9
    PING = 10
    PONG = 11


class ResetCode(enum.IntEnum):
    """Why a stream was reset."""

    CANCEL = 1  # the hub's caller closed the response or gave up (timeout, cancellation)
    UPSTREAM_UNREACHABLE = 2  # the agent could not send the request to its API server
    UPSTREAM_FAILED = 3  # the API server's response broke off mid-body
    PROTOCOL_ERROR = 4  # a frame arrived that the stream's state does not allow
    REFUSED = 5  # the agent will not forward this request (bad target, body too large, too many streams)
    SHUTDOWN = 6  # the agent is stopping


Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RequestHead:
    stream_id: int
    method: str
    target: str
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class RequestBody:
    stream_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RequestEnd:
    stream_id: int


@dataclass(frozen=True, slots=True)
class ResponseHead:
    stream_id: int
    status: int
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class ResponseBody:
    stream_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ResponseEnd:
    stream_id: int


@dataclass(frozen=True, slots=True)
class Reset:
    stream_id: int
    code: ResetCode
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Window:
    stream_id: int
    increment: int


@dataclass(frozen=True, slots=True)
class Hello:
    session: str
    ping_interval_s: float
    idle_timeout_s: float
    window: int
    stream_id: int = 0


@dataclass(frozen=True, slots=True)
class Ping:
    opaque: bytes
    stream_id: int = 0


@dataclass(frozen=True, slots=True)
class Pong:
    opaque: bytes
    stream_id: int = 0


Frame = (
    RequestHead
    | RequestBody
    | RequestEnd
    | ResponseHead
    | ResponseBody
    | ResponseEnd
    | Reset
    | Window
    | Hello
    | Ping
    | Pong
)
