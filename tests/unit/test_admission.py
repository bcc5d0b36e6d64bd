"""Admission: seats per level, a cap per caller, round-robin over callers, a bounded queue per caller.

Before: every request ran as soon as it arrived, so 32 clients of one caller shared the event loop
with everybody's requests and an unrelated GET waited behind all of them (bench/load.py: 30-50x its
quiet p99). These tests assert who runs and who waits, never timings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Scope

from tether.api.admission import Admission, FairQueue, Flow
from tether.domain.principals import Caller, PrincipalKind
from tether.errors import Throttled


async def settled() -> None:
    """Let every task that can run, run (the queue hands seats out synchronously)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_caller_at_its_cap_waits_while_another_caller_gets_a_free_seat() -> None:
    queue = FairQueue(seats=4, per_flow=1, queued_per_flow=8)
    await queue.acquire("alice")

    second = asyncio.create_task(queue.acquire("alice"))
    await settled()
    await queue.acquire("bob")

    assert not second.done()
    assert (queue.running("alice"), queue.waiting("alice"), queue.running("bob")) == (1, 1, 1)
    queue.release("alice")
    await second
    assert queue.running("alice") == 1


async def test_freed_seats_go_round_robin_over_the_callers_waiting() -> None:
    queue = FairQueue(seats=1, per_flow=1, queued_per_flow=8)
    await queue.acquire("holder")
    granted: list[str] = []

    async def request(caller: str, label: str) -> None:
        await queue.acquire(caller)
        granted.append(label)

    tasks = [
        asyncio.create_task(request(c, label)) for c, label in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")]
    ]
    await settled()
    for caller in ["holder", "a", "b", "a"]:  # each release frees the seat its holder had
        queue.release(caller)
        await settled()
    await asyncio.gather(*tasks)

    assert granted == ["a1", "b1", "a2", "a3"]


async def test_a_caller_with_a_full_queue_is_refused_at_once() -> None:
    queue = FairQueue(seats=1, per_flow=1, queued_per_flow=2)
    await queue.acquire("alice")
    waiting = [asyncio.create_task(queue.acquire("alice")) for _ in range(2)]
    await settled()

    with pytest.raises(Throttled) as refused:
        await queue.acquire("alice")

    assert refused.value.retry_after_s == 1
    assert "2 requests waiting" in refused.value.message
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_a_waiter_that_goes_away_leaves_the_queue_and_no_seat_is_lost() -> None:
    queue = FairQueue(seats=1, per_flow=1, queued_per_flow=8)
    await queue.acquire("alice")
    gone = asyncio.create_task(queue.acquire("bob"))
    await settled()

    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    queue.release("alice")

    assert (queue.waiting("bob"), queue.running("bob"), queue.free_seats) == (0, 0, 1)


async def test_a_seat_handed_to_a_waiter_that_just_went_away_is_passed_on() -> None:
    queue = FairQueue(seats=1, per_flow=1, queued_per_flow=8)
    await queue.acquire("alice")
    gone = asyncio.create_task(queue.acquire("bob"))
    later = asyncio.create_task(queue.acquire("carol"))
    await settled()

    queue.release("alice")  # the seat goes to bob's request ...
    gone.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(gone, return_exceptions=True)
    await later

    assert (queue.running("bob"), queue.running("carol"), queue.free_seats) == (0, 1, 0)


# --- the middleware, on a small app ------------------------------------------------------------


class Gates:
    """Requests to /held/{n} wait until gate n opens; /stream/{n} answers its headers, then waits."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.entered: list[str] = []

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def held(self, request: Request) -> PlainTextResponse:
        name = request.path_params["name"]
        self.entered.append(name)
        await self.gate(name).wait()
        return PlainTextResponse(name)

    async def stream(self, request: Request) -> StreamingResponse:
        name = request.path_params["name"]
        self.entered.append(name)

        async def body() -> AsyncIterator[bytes]:
            yield b"first line\n"
            await self.gate(name).wait()
            yield b"last line\n"

        return StreamingResponse(body())


async def by_header(scope: Scope) -> Flow:
    caller = dict(scope["headers"]).get(b"x-caller", b"").decode()
    if not caller:
        return Flow(key="source")
    principal = Caller(tenant_id="tenant", object_id=caller, app_id=caller, kind=PrincipalKind.SERVICE_PRINCIPAL)
    return Flow(key=caller, caller=principal)


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
def admitted(gates: Gates) -> Admission:
    app = Starlette(routes=[Route("/held/{name}", gates.held), Route("/stream/{name}", gates.stream)])
    return Admission(
        app,
        signed_in=FairQueue(seats=2, per_flow=1, queued_per_flow=1),
        others=FairQueue(seats=1, per_flow=1, queued_per_flow=4),
        flow_of=by_header,
    )


@pytest.fixture
async def http(admitted: Admission) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=admitted), base_url="http://test") as client:
        yield client


async def test_one_callers_running_request_does_not_hold_up_another_caller(
    http: httpx2.AsyncClient, gates: Gates
) -> None:
    first = asyncio.create_task(http.get("/held/a1", headers={"x-caller": "alice"}))
    second = asyncio.create_task(http.get("/held/a2", headers={"x-caller": "alice"}))
    await settled()
    gates.gate("b1").set()

    other = await http.get("/held/b1", headers={"x-caller": "bob"})

    assert other.status_code == 200
    assert gates.entered == ["a1", "b1"], "alice's second request ran before her first finished"
    gates.gate("a1").set()
    gates.gate("a2").set()
    assert [(await t).text for t in (first, second)] == ["a1", "a2"]


async def test_a_caller_past_its_queue_gets_an_arm_429_with_retry_after(http: httpx2.AsyncClient, gates: Gates) -> None:
    running = asyncio.create_task(http.get("/held/a1", headers={"x-caller": "alice"}))
    queued = asyncio.create_task(http.get("/held/a2", headers={"x-caller": "alice"}))
    await settled()

    refused = await http.get("/held/a3", headers={"x-caller": "alice"})

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "TooManyRequests"
    assert refused.headers["Retry-After"] == "1"
    assert "a3" not in gates.entered
    gates.gate("a1").set()
    gates.gate("a2").set()
    await asyncio.gather(running, queued)


async def test_a_streamed_answer_gives_its_seat_back_once_its_headers_are_sent(
    admitted: Admission, http: httpx2.AsyncClient, gates: Gates
) -> None:
    # httpx's ASGI transport reads a whole answer before returning it, so the stream is driven by hand.
    sent: list[Message] = []
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if requested:  # the client stays connected
            await asyncio.Event().wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/stream/s1",
        "raw_path": b"/stream/s1",
        "query_string": b"",
        "headers": [(b"x-caller", b"alice")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    streaming = asyncio.create_task(admitted(scope, receive, send))
    while not any(m["type"] == "http.response.start" for m in sent):  # noqa: ASYNC110 - the stream's headers
        await asyncio.sleep(0)
    gates.gate("a2").set()

    second = await http.get("/held/a2", headers={"x-caller": "alice"})

    assert second.text == "a2"
    assert not streaming.done()
    gates.gate("s1").set()
    await streaming
    assert b"".join(m.get("body", b"") for m in sent) == b"first line\nlast line\n"


async def test_requests_not_signed_in_have_seats_of_their_own(http: httpx2.AsyncClient, gates: Gates) -> None:
    anonymous = asyncio.create_task(http.get("/held/n1"))  # holds the only seat of its level
    await settled()
    gates.gate("a1").set()

    signed_in = await http.get("/held/a1", headers={"x-caller": "alice"})

    assert signed_in.status_code == 200
    assert not anonymous.done()
    gates.gate("n1").set()
    await anonymous
