"""The relay tunnel's wire format: frames (:mod:`tether.protocol.tunnel.frames`) to bytes and back.

Each binary WebSocket message carries one or more frames back to back. Integers are big-endian::

    byte 0      protocol version (``VERSION``)
    byte 1      frame type (:class:`~tether.protocol.tunnel.frames.FrameType`)
    bytes 2..5  stream id (uint32); 0 is the connection itself, 1.. are HTTP exchanges
    bytes 6..9  payload length (uint32, at most ``MAX_PAYLOAD``)
    bytes 10..  payload, by type:

    REQUEST_HEAD   JSON {"method", "target", "headers": [[n, v], ...]}
    REQUEST_BODY   raw bytes
    REQUEST_END    empty
    RESPONSE_HEAD  JSON {"status", "headers": [[n, v], ...]}
    RESPONSE_BODY  raw bytes
    RESPONSE_END   empty
    RESET          1 byte reset code + UTF-8 reason
    WINDOW         uint32 credit
    HELLO          JSON {"session", "ping_interval_s", "idle_timeout_s", "window"}
    PING / PONG    8 opaque bytes

Several frames per message let a small request (head, body, end) go out as one write, which keeps
Nagle's algorithm from holding back its tail on sockets without TCP_NODELAY.

This module is pure: encode and decode only, no I/O. Anything that does not parse raises
:class:`MalformedFrame` (the receiver closes the tunnel with ``CLOSE_PROTOCOL_ERROR``). Hazard:
``MAX_PAYLOAD`` bounds what a receiver accepts, senders cut bodies into ``BODY_CHUNK`` pieces.

Every relayed request is encoded and decoded once each way, on the request's critical path, so the
code is written for that: per-type functions found by table (no enum construction or match cascade),
heads checked with two regular expressions per header and the precise complaint worked out only
once a check fails.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from tether.errors import InvalidRequest
from tether.protocol.tunnel.frames import (
    Frame,
    FrameType,
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

VERSION = 1
HEADER = struct.Struct(">BBII")
MAX_STREAM_ID = 2**32 - 1
#: Largest payload a receiver accepts; bodies are sent in pieces of at most BODY_CHUNK bytes.
MAX_PAYLOAD = 1024 * 1024
BODY_CHUNK = 64 * 1024
MAX_REASON = 1024


@dataclass
class MalformedFrame(InvalidRequest):
    """A tunnel message that is not a valid frame: the peer speaks another version or is broken."""

    code: str = "MalformedTunnelFrame"


_HEADER_SIZE = HEADER.size
_UINT32 = struct.Struct(">I")
_CONNECTION_KINDS = frozenset({FrameType.HELLO, FrameType.PING, FrameType.PONG})
# fullmatch, not match with "$": "$" also matches before a trailing newline.
_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_is_target = re.compile(r"/(?!/)[\x21-\x7e]*").fullmatch
_BAD_VALUE = re.compile(r"[\x00\r\n]")
#: What a header value may not hold: CR, LF, NUL, or anything outside Latin-1.
_find_unsafe = re.compile(r"[\x00\r\n\u0100-\U0010ffff]").search
_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# --- encoding -----------------------------------------------------------------------------------


def _pack(kind: FrameType, stream_id: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(VERSION, kind, stream_id, len(payload)) + payload


def encode_frames(frames: Sequence[Frame]) -> bytes:
    """One WebSocket message carrying ``frames`` in order."""
    return b"".join([encode_frame(f) for f in frames])


def encode_frame(frame: Frame) -> bytes:
    """One WebSocket message for ``frame``. Values are validated as on decoding (no garbage goes out)."""
    encoder = _ENCODERS.get(type(frame))
    if encoder is None:
        raise TypeError(f"not a tunnel frame: {frame!r}")
    return encoder(frame)


def _encode_request_head(frame: RequestHead) -> bytes:
    sid, method, target, headers = frame.stream_id, frame.method, frame.target, frame.headers
    _check_request_head(sid, method, target, headers)
    # Tuples encode as JSON arrays: headers go out as [[name, value], ...].
    payload = _to_json({"method": method, "target": target, "headers": headers}).encode()
    return _pack(FrameType.REQUEST_HEAD, sid, payload)


def _encode_response_head(frame: ResponseHead) -> bytes:
    sid, status, headers = frame.stream_id, frame.status, frame.headers
    _check_response_head(sid, status, headers)
    return _pack(FrameType.RESPONSE_HEAD, sid, _to_json({"status": status, "headers": headers}).encode())


def _encode_reset(frame: Reset) -> bytes:
    raw_reason = frame.reason.encode()[:MAX_REASON].decode(errors="ignore").encode()
    return _pack(FrameType.RESET, _stream(frame.stream_id), bytes([ResetCode(frame.code)]) + raw_reason)


def _encode_window(frame: Window) -> bytes:
    if not 0 < frame.increment <= MAX_STREAM_ID:
        raise MalformedFrame(f"window increment {frame.increment} is out of range 1..{MAX_STREAM_ID}")
    return _pack(FrameType.WINDOW, _stream(frame.stream_id), _UINT32.pack(frame.increment))


def _encode_hello(frame: Hello) -> bytes:
    _check_hello(frame)
    payload = {
        "session": frame.session,
        "ping_interval_s": frame.ping_interval_s,
        "idle_timeout_s": frame.idle_timeout_s,
        "window": frame.window,
    }
    return _pack(FrameType.HELLO, 0, _to_json(payload).encode())


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    RequestHead: _encode_request_head,
    RequestBody: lambda f: _pack(FrameType.REQUEST_BODY, _stream(f.stream_id), _body(f.data)),
    RequestEnd: lambda f: _pack(FrameType.REQUEST_END, _stream(f.stream_id)),
    ResponseHead: _encode_response_head,
    ResponseBody: lambda f: _pack(FrameType.RESPONSE_BODY, _stream(f.stream_id), _body(f.data)),
    ResponseEnd: lambda f: _pack(FrameType.RESPONSE_END, _stream(f.stream_id)),
    Reset: _encode_reset,
    Window: _encode_window,
    Hello: _encode_hello,
    Ping: lambda f: _pack(FrameType.PING, 0, _opaque(f.opaque)),
    Pong: lambda f: _pack(FrameType.PONG, 0, _opaque(f.opaque)),
}


# --- decoding -----------------------------------------------------------------------------------


def decode_frames(message: bytes) -> list[Frame]:
    """Every frame in one WebSocket message; :class:`MalformedFrame` says what is wrong with it."""
    if not message:
        raise MalformedFrame("empty tunnel message")
    frames: list[Frame] = []
    size = len(message)
    offset = 0
    while offset < size:
        if size - offset < _HEADER_SIZE:
            raise MalformedFrame(
                f"tunnel frame of {size - offset} bytes is shorter than its {_HEADER_SIZE}-byte header"
            )
        version, raw_kind, sid, length = HEADER.unpack_from(message, offset)
        if version != VERSION:
            raise MalformedFrame(f"tunnel protocol version {version} is not supported (this side speaks {VERSION})")
        if length > MAX_PAYLOAD:
            raise MalformedFrame(f"frame payload of {length} bytes exceeds {MAX_PAYLOAD}")
        start = offset + _HEADER_SIZE
        offset = start + length
        if offset > size:
            raise MalformedFrame(f"frame announces {length} payload bytes but only {size - start} follow")
        decoder = _DECODERS.get(raw_kind)
        if decoder is None:
            raise MalformedFrame(f"unknown tunnel frame type {raw_kind}")
        if (raw_kind in _CONNECTION_KINDS) != (sid == 0):
            _refuse_stream(FrameType(raw_kind), sid)
        frames.append(decoder(sid, message[start:offset]))
    return frames


def decode_frame(message: bytes) -> Frame:
    """The single frame in ``message`` (MalformedFrame if there are none or several)."""
    frames = decode_frames(message)
    if len(frames) != 1:
        raise MalformedFrame(f"expected one tunnel frame, got {len(frames)}")
    return frames[0]


def _refuse_stream(kind: FrameType, sid: int) -> NoReturn:
    if kind in _CONNECTION_KINDS:
        raise MalformedFrame(f"{kind.name} must be on stream 0, not {sid}")
    raise MalformedFrame(f"{kind.name} needs a stream id, got 0")


def _decode_request_head(sid: int, payload: bytes) -> RequestHead:
    obj = _load(FrameType.REQUEST_HEAD, payload, ("method", "target", "headers"))
    method, target, headers = obj["method"], obj["target"], _headers(FrameType.REQUEST_HEAD, obj["headers"])
    if not isinstance(method, str) or not isinstance(target, str):
        raise MalformedFrame("REQUEST_HEAD method and target must be strings")
    _check_request_head(sid, method, target, headers)
    return RequestHead(sid, method, target, headers)


def _decode_response_head(sid: int, payload: bytes) -> ResponseHead:
    obj = _load(FrameType.RESPONSE_HEAD, payload, ("status", "headers"))
    status, headers = obj["status"], _headers(FrameType.RESPONSE_HEAD, obj["headers"])
    if not isinstance(status, int) or isinstance(status, bool):
        raise MalformedFrame("RESPONSE_HEAD status must be an integer")
    _check_response_head(sid, status, headers)
    return ResponseHead(sid, status, headers)


def _decode_end(kind: FrameType, sid: int, payload: bytes) -> RequestEnd | ResponseEnd:
    if payload:
        raise MalformedFrame(f"{kind.name} carries no payload, got {len(payload)} bytes")
    return RequestEnd(sid) if kind is FrameType.REQUEST_END else ResponseEnd(sid)


def _decode_reset(sid: int, payload: bytes) -> Reset:
    if not payload:
        raise MalformedFrame("RESET needs a reset code")
    try:
        code = ResetCode(payload[0])
    except ValueError:
        raise MalformedFrame(f"unknown RESET code {payload[0]}") from None
    if len(payload) - 1 > MAX_REASON:
        raise MalformedFrame(f"RESET reason exceeds {MAX_REASON} bytes")
    try:
        reason = payload[1:].decode()
    except UnicodeDecodeError:
        raise MalformedFrame("RESET reason is not UTF-8") from None
    return Reset(sid, code, reason)


def _decode_window(sid: int, payload: bytes) -> Window:
    if len(payload) != 4:
        raise MalformedFrame(f"WINDOW payload must be 4 bytes, got {len(payload)}")
    (increment,) = _UINT32.unpack(payload)
    if increment == 0:
        raise MalformedFrame("WINDOW increment must be positive")
    return Window(sid, increment)


def _decode_hello(_sid: int, payload: bytes) -> Hello:
    obj = _load(FrameType.HELLO, payload, ("session", "ping_interval_s", "idle_timeout_s", "window"))
    hello = Hello(
        session=obj["session"],
        ping_interval_s=obj["ping_interval_s"],
        idle_timeout_s=obj["idle_timeout_s"],
        window=obj["window"],
    )
    _check_hello(hello)
    return hello


_DECODERS: dict[int, Callable[[int, bytes], Frame]] = {
    FrameType.REQUEST_HEAD: _decode_request_head,
    FrameType.REQUEST_BODY: RequestBody,
    FrameType.REQUEST_END: lambda sid, payload: _decode_end(FrameType.REQUEST_END, sid, payload),
    FrameType.RESPONSE_HEAD: _decode_response_head,
    FrameType.RESPONSE_BODY: ResponseBody,
    FrameType.RESPONSE_END: lambda sid, payload: _decode_end(FrameType.RESPONSE_END, sid, payload),
    FrameType.RESET: _decode_reset,
    FrameType.WINDOW: _decode_window,
    FrameType.HELLO: _decode_hello,
    FrameType.PING: lambda _sid, payload: Ping(_opaque(payload)),
    FrameType.PONG: lambda _sid, payload: Pong(_opaque(payload)),
}


def _load(kind: FrameType, payload: bytes, keys: Sequence[str]) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise MalformedFrame(f"{kind.name} payload is not JSON") from None
    if not isinstance(obj, dict):
        raise MalformedFrame(f"{kind.name} payload must be a JSON object")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise MalformedFrame(f"{kind.name} payload lacks {', '.join(missing)}")
    return obj


def _headers(kind: FrameType, raw: object) -> Headers:
    if not isinstance(raw, list):
        raise MalformedFrame(f"{kind.name} headers must be a list of [name, value] pairs")
    pairs: list[tuple[str, str]] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], str)):
            raise MalformedFrame(f"{kind.name} header {item!r} is not a [name, value] pair of strings")
        pairs.append((item[0], item[1]))
    return tuple(pairs)


# --- validation (shared by both directions) -----------------------------------------------------


def _stream(sid: int) -> int:
    if not 0 < sid <= MAX_STREAM_ID:
        raise MalformedFrame(f"stream id {sid} is out of range 1..{MAX_STREAM_ID}")
    return sid


def _body(data: bytes) -> bytes:
    if len(data) > MAX_PAYLOAD:
        raise MalformedFrame(f"body piece of {len(data)} bytes exceeds {MAX_PAYLOAD}; cut it into BODY_CHUNK pieces")
    return bytes(data)


def _opaque(data: bytes) -> bytes:
    if len(data) != 8:
        raise MalformedFrame(f"PING/PONG payload must be 8 bytes, got {len(data)}")
    return bytes(data)


def _check_headers(headers: Headers) -> None:
    for name, value in headers:
        if _is_token(name) is None or _find_unsafe(value) is not None:
            _refuse_header(name, value)


def _refuse_header(name: str, value: str) -> NoReturn:
    if _is_token(name) is None:
        raise MalformedFrame(f"header name {name!r} is not an HTTP token")
    if _BAD_VALUE.search(value):
        raise MalformedFrame(f"header {name} has a value with CR, LF or NUL")
    raise MalformedFrame(f"header {name} has a value outside Latin-1")


def _check_request_head(sid: int, method: str, target: str, headers: Headers) -> None:
    _stream(sid)
    if _is_token(method) is None:
        raise MalformedFrame(f"method {method!r} is not an HTTP token")
    if _is_target(target) is None:
        raise MalformedFrame(f"target {target!r} is not an origin-form path ('/path?query', printable ASCII)")
    _check_headers(headers)


def _check_response_head(sid: int, status: int, headers: Headers) -> None:
    _stream(sid)
    if not 100 <= status <= 599:
        raise MalformedFrame(f"status {status} is out of range 100..599")
    _check_headers(headers)


def _check_hello(hello: Hello) -> None:
    numbers = (hello.ping_interval_s, hello.idle_timeout_s)
    if not isinstance(hello.session, str) or not all(
        isinstance(n, int | float) and not isinstance(n, bool) and n > 0 for n in numbers
    ):
        raise MalformedFrame("HELLO needs a session string and positive ping_interval_s and idle_timeout_s")
    if not isinstance(hello.window, int) or isinstance(hello.window, bool) or not 0 < hello.window <= MAX_STREAM_ID:
        raise MalformedFrame(f"HELLO window must be an integer in 1..{MAX_STREAM_ID}")
