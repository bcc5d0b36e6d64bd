"""The relay tunnel's wire format: every frame round-trips, and anything malformed is a typed error."""

from __future__ import annotations

import json
import struct

import pytest

from tether.errors import InvalidRequest
from tether.protocol.tunnel.codec import (
    HEADER,
    MAX_PAYLOAD,
    VERSION,
    MalformedFrame,
    decode_frame,
    decode_frames,
    encode_frame,
    encode_frames,
)
from tether.protocol.tunnel.frames import (
    Frame,
    FrameType,
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

FRAMES: list[Frame] = [
    RequestHead(
        1,
        "GET",
        "/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dweb",
        (("Accept", "application/json"), ("User-Agent", "lightkube/1.0"), ("X-Latin", "caf\xe9")),
    ),
    RequestHead(7, "POST", "/api/v1/namespaces", ()),
    RequestBody(1, b'{"kind":"ConfigMap"}'),
    RequestBody(2, b""),
    RequestEnd(1),
    ResponseHead(1, 200, (("Content-Type", "application/json"), ("Content-Length", "2"))),
    ResponseHead(2**32 - 1, 404),
    ResponseBody(1, bytes(range(256)) * 10),
    ResponseEnd(1),
    Reset(3, ResetCode.CANCEL, "the response was closed"),
    Reset(3, ResetCode.UPSTREAM_UNREACHABLE, ""),
    Reset(4, ResetCode.REFUSED, "über limit"),
    Window(1, 65536),
    Hello(session="abc123", ping_interval_s=2.0, idle_timeout_s=6, window=1 << 20),
    Ping(b"\x00" * 7 + b"\x01"),
    Pong(b"12345678"),
]


def raw(kind: int, stream_id: int, payload: bytes = b"", *, version: int = VERSION, length: int | None = None) -> bytes:
    size = len(payload) if length is None else length
    return HEADER.pack(version, kind, stream_id, size) + payload


def head_payload(**fields: object) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: type(f).__name__)
def test_every_frame_round_trips(frame: Frame) -> None:
    assert decode_frame(encode_frame(frame)) == frame


def test_one_message_carries_several_frames_in_order() -> None:
    frames: list[Frame] = [RequestHead(5, "PUT", "/x", ()), RequestBody(5, b"abc"), RequestEnd(5)]
    message = encode_frames(frames)
    assert decode_frames(message) == frames
    with pytest.raises(MalformedFrame, match="expected one tunnel frame, got 3"):
        decode_frame(message)


def test_reset_reason_is_truncated_to_its_limit() -> None:
    frame = decode_frame(encode_frame(Reset(1, ResetCode.SHUTDOWN, "x" * 5000)))
    assert isinstance(frame, Reset)
    assert len(frame.reason) == 1024


def test_malformed_frame_is_an_invalid_request_with_its_own_code() -> None:
    with pytest.raises(MalformedFrame) as caught:
        decode_frames(b"")
    assert isinstance(caught.value, InvalidRequest)
    assert caught.value.code == "MalformedTunnelFrame"


MALFORMED: dict[str, tuple[bytes, str]] = {
    "short header": (b"\x01\x01\x00", "shorter than its 10-byte header"),
    "other version": (raw(FrameType.REQUEST_END, 1, version=2), "version 2 is not supported"),
    "unknown type": (raw(99, 1), "unknown tunnel frame type 99"),
    "truncated payload": (raw(FrameType.RESPONSE_BODY, 1, b"abc", length=10), "announces 10 payload bytes"),
    "oversized payload": (raw(FrameType.RESPONSE_BODY, 1, length=MAX_PAYLOAD + 1), "exceeds"),
    "trailing bytes": (encode_frame(RequestEnd(1)) + b"\x01", "shorter than its 10-byte header"),
    "ping on a stream": (raw(FrameType.PING, 1, b"12345678"), "must be on stream 0"),
    "hello on a stream": (raw(FrameType.HELLO, 2, b"{}"), "must be on stream 0"),
    "head on stream 0": (raw(FrameType.REQUEST_HEAD, 0, b"{}"), "needs a stream id"),
    "head not json": (raw(FrameType.REQUEST_HEAD, 1, b"\xff{"), "not JSON"),
    "head not an object": (raw(FrameType.REQUEST_HEAD, 1, b"[1]"), "must be a JSON object"),
    "head lacks target": (raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET", headers=[])), "lacks target"),
    "absolute target": (
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET", target="https://evil.example/", headers=[])),
        "not an origin-form path",
    ),
    "authority target": (
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET", target="//evil.example/x", headers=[])),
        "not an origin-form path",
    ),
    "target with space": (
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET", target="/a b", headers=[])),
        "not an origin-form path",
    ),
    "bad method": (
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GE T", target="/", headers=[])),
        "not an HTTP token",
    ),
    "headers not a list": (
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET", target="/", headers={"a": "b"})),
        "must be a list",
    ),
    "header not a pair": (
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET", target="/", headers=[["a"]])),
        "not a [name, value] pair",
    ),
    "header injection": (
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET", target="/", headers=[["a", "b\r\nc: d"]])),
        "CR, LF or NUL",
    ),
    "header name not a token": (
        raw(FrameType.RESPONSE_HEAD, 1, head_payload(status=200, headers=[["a b", "c"]])),
        "not an HTTP token",
    ),
    "header outside latin-1": (
        raw(FrameType.RESPONSE_HEAD, 1, head_payload(status=200, headers=[["a", "\u20ac"]])),
        "outside Latin-1",
    ),
    "status out of range": (raw(FrameType.RESPONSE_HEAD, 1, head_payload(status=700, headers=[])), "out of range"),
    "status not a number": (
        raw(FrameType.RESPONSE_HEAD, 1, head_payload(status="200", headers=[])),
        "must be an integer",
    ),
    "status is a boolean": (
        raw(FrameType.RESPONSE_HEAD, 1, head_payload(status=True, headers=[])),
        "must be an integer",
    ),
    "end with payload": (raw(FrameType.RESPONSE_END, 1, b"x"), "carries no payload"),
    "reset without code": (raw(FrameType.RESET, 1), "needs a reset code"),
    "reset unknown code": (raw(FrameType.RESET, 1, b"\x63"), "unknown RESET code 99"),
    "reset reason not utf-8": (raw(FrameType.RESET, 1, b"\x01\xff\xfe"), "not UTF-8"),
    "window wrong size": (raw(FrameType.WINDOW, 1, b"\x00\x01"), "must be 4 bytes"),
    "window of zero": (raw(FrameType.WINDOW, 1, struct.pack(">I", 0)), "must be positive"),
    "ping wrong size": (raw(FrameType.PING, 0, b"1234"), "must be 8 bytes"),
    "hello bad interval": (
        raw(
            FrameType.HELLO,
            0,
            head_payload(session="s", ping_interval_s=0, idle_timeout_s=6, window=10),
        ),
        "positive ping_interval_s",
    ),
    "hello bad window": (
        raw(
            FrameType.HELLO,
            0,
            head_payload(session="s", ping_interval_s=2, idle_timeout_s=6, window=-1),
        ),
        "window must be an integer",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_message_raises_a_typed_error(case: str) -> None:
    message, says = MALFORMED[case]
    with pytest.raises(MalformedFrame, match=says.replace("[", r"\[").replace("]", r"\]")):
        decode_frames(message)


@pytest.mark.parametrize(
    "frame",
    [
        RequestHead(1, "GET", "http://elsewhere/", ()),
        RequestHead(0, "GET", "/", ()),
        RequestHead(1, "GET", "/", (("X", "a\nb"),)),
        RequestHead(1, "GET", "/x\n", ()),
        ResponseHead(1, 200, (("X\n", "v"),)),
        ResponseHead(1, 99),
        RequestBody(2**32, b""),
        Window(1, 0),
        Ping(b"short"),
    ],
    ids=[
        "absolute target",
        "stream 0",
        "header newline",
        "target newline",
        "header name newline",
        "status 99",
        "stream id too big",
        "zero window",
        "ping",
    ],
)
def test_encoding_refuses_what_decoding_would_refuse(frame: Frame) -> None:
    with pytest.raises(MalformedFrame):
        encode_frame(frame)


def test_the_wire_format_is_pinned() -> None:
    request = encode_frames(
        [RequestHead(1, "GET", "/api?x=1", (("Accept", "application/json"), ("X", "caf\xe9"))), RequestEnd(1)]
    )
    head = '{"method":"GET","target":"/api?x=1","headers":[["Accept","application/json"],["X","café"]]}'.encode()
    assert request == raw(FrameType.REQUEST_HEAD, 1, head) + raw(FrameType.REQUEST_END, 1)
    response = encode_frames([ResponseHead(7, 200, (("Content-Length", "2"),)), ResponseBody(7, b"{}"), ResponseEnd(7)])
    head = b'{"status":200,"headers":[["Content-Length","2"]]}'
    assert response == raw(FrameType.RESPONSE_HEAD, 7, head) + raw(FrameType.RESPONSE_BODY, 7, b"{}") + raw(
        FrameType.RESPONSE_END, 7
    )


def test_a_whole_exchange_is_one_message_each_way() -> None:
    request: list[Frame] = [RequestHead(3, "GET", "/api/v1/namespaces/default", ()), RequestEnd(3)]
    response: list[Frame] = [
        ResponseHead(3, 200, (("Content-Type", "application/json"),)),
        ResponseBody(3, b"{}"),
        ResponseEnd(3),
    ]
    assert decode_frames(encode_frames(request)) == request
    assert decode_frames(encode_frames(response)) == response


@pytest.mark.parametrize(
    ("tail", "says"),
    [
        (raw(FrameType.RESPONSE_END, 3, b"x"), "carries no payload"),
        (raw(99, 3), "unknown tunnel frame type 99"),
        (raw(FrameType.RESPONSE_BODY, 0, b"x"), "needs a stream id"),
        (raw(FrameType.RESPONSE_BODY, 3, b"abc", length=4), "announces 4 payload bytes"),
    ],
    ids=["end with payload", "unknown type", "body on stream 0", "truncated"],
)
def test_a_malformed_frame_after_good_ones_refuses_the_whole_message(tail: bytes, says: str) -> None:
    good = encode_frames([ResponseHead(3, 200), ResponseBody(3, b"{}")])
    with pytest.raises(MalformedFrame, match=says):
        decode_frames(good + tail)


@pytest.mark.parametrize(
    "message",
    [
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET\n", target="/", headers=[])),
        raw(FrameType.REQUEST_HEAD, 1, head_payload(method="GET", target="/x\n", headers=[])),
        raw(FrameType.RESPONSE_HEAD, 1, head_payload(status=200, headers=[["X-A\n", "b"]])),
    ],
    ids=["method", "target", "header name"],
)
def test_a_trailing_newline_is_refused(message: bytes) -> None:
    with pytest.raises(MalformedFrame, match=r"not an HTTP token|not an origin-form path"):
        decode_frames(message)


def test_only_frames_encode() -> None:
    with pytest.raises(TypeError, match="not a tunnel frame"):
        encode_frame("GET /")  # type: ignore[arg-type]
