"""Admission: how many API requests run at once, and which waiting request runs next.

Every HTTP request to the main app (ARM, Graph, the token endpoints, the Studio) takes a seat before
it runs and gives it back when its response starts (so a streamed log holds no seat while it
streams). There are two levels, each with its own ``seats``: requests with a verified bearer token,
and the rest (sign-ins, whose secret checks wait for their own threads; bad tokens; the Studio's
sign-in pages), so a flood of sign-ins never takes the seats of signed-in callers.

Within a level, requests are grouped in **flows**: the token's principal, or the source address.
A signed-in flow runs at most ``seats_per_caller`` requests at once (default 1); its other requests
wait in its queue, and freed seats go round-robin over the flows with requests waiting. So a caller
that sends 32 requests at once waits behind its own requests, and another caller's GET waits for at
most one request of each busy caller. This is Kubernetes' API Priority and Fairness reduced to two
priority levels and one exact queue per flow.

Why limit at all on one event loop: each await of each running request queues behind the ready
work of all the others, so with 64 requests in flight a GET that does ten awaits waits ten times for
64 others (docs/decisions/0028 has the figures).

A flow with ``queued_per_caller`` requests already waiting gets ``Throttled`` (429, Retry-After 1) at
once. WebSockets (the relay) and the blob and replica ports are not admitted here.

Hazards: a request holds its seat while it waits on the network (an attach preflight that calls a
cluster that does not answer), so that caller's next requests wait as long; and ``seats`` such
requests of different callers at once delay every other caller too.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.api.errors import error_response
from tether.domain.principals import Caller
from tether.errors import TetherError, Throttled
from tether.identity.tokens import TokenService

VERIFIED_CALLER = "tether.verified_caller"  # the key in the request's state


class FairQueue:
    """``seats`` shared by flows, at most ``per_flow`` of them running one flow's requests; a freed seat goes to
    the next flow in round-robin order that has a request waiting and is under its cap."""

    def __init__(self, *, seats: int, per_flow: int, queued_per_flow: int) -> None:
        self._free = seats
        self._per_flow = per_flow
        self._queued_per_flow = queued_per_flow
        self._running: Counter[str] = Counter()
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._turns: deque[str] = deque()  # flows with waiters, the next to be served first

    @property
    def free_seats(self) -> int:
        return self._free

    def running(self, flow: str) -> int:
        return self._running[flow]

    def waiting(self, flow: str) -> int:
        return len(self._waiting.get(flow, ()))

    async def acquire(self, flow: str) -> None:
        """Wait for a seat; ``Throttled`` when ``flow`` already has ``queued_per_flow`` requests waiting."""
        if self._free > 0 and self._running[flow] < self._per_flow and flow not in self._waiting:
            self._take(flow)  # any flow still waiting is at its cap
            return
        queue = self._waiting.get(flow)
        if queue is None:
            queue = self._waiting[flow] = deque()
            self._turns.append(flow)
        elif len(queue) >= self._queued_per_flow:
            raise Throttled(
                f"This caller already has {len(queue)} requests waiting for the server; wait for some to "
                "finish, or retry after the Retry-After delay.",
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(flow)  # the seat was handed over just as the caller went away: pass it on
            else:
                self._forget(flow, waiter)
            raise

    def release(self, flow: str) -> None:
        """Give back a seat ``flow`` held, and hand free seats to waiting requests."""
        self._running[flow] -= 1
        if self._running[flow] <= 0:
            del self._running[flow]
        self._free += 1
        self._hand_out()

    def _take(self, flow: str) -> None:
        self._free -= 1
        self._running[flow] += 1

    def _hand_out(self) -> None:
        """Round-robin over the waiting flows, one request per flow per turn, skipping flows at their cap."""
        unserved = len(self._turns)  # turns in a row that served nobody; a whole round of them ends it
        while self._free > 0 and unserved > 0:
            flow = self._turns.popleft()
            if self._running[flow] >= self._per_flow:
                self._turns.append(flow)
                unserved -= 1
                continue
            queue = self._waiting[flow]
            self._take(flow)
            queue.popleft().set_result(None)
            if queue:
                self._turns.append(flow)
            else:
                del self._waiting[flow]
            unserved = len(self._turns)

    def _forget(self, flow: str, waiter: asyncio.Future[None]) -> None:
        queue = self._waiting.get(flow)
        if queue is None or waiter not in queue:
            return
        queue.remove(waiter)
        if not queue:
            del self._waiting[flow]
            self._turns.remove(flow)


@dataclass(frozen=True)
class Flow:
    key: str
    caller: Caller | None = None  # the bearer token's verified principal; None: not signed in (the other level)

    @property
    def signed_in(self) -> bool:
        return self.caller is not None


FlowOf = Callable[[Scope], Awaitable[Flow]]


def flow_by_principal(tokens: TokenService) -> FlowOf:
    """The flow of a request: its bearer token's principal when the token verifies, else its source address."""

    async def flow_of(scope: Scope) -> Flow:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    try:
                        caller = await tokens.authenticate(token.strip())
                    except TetherError:
                        break  # the route refuses it (401, or 503 if the store is down); until then: its source
                    return Flow(key=f"{caller.tenant_id}/{caller.object_id}", caller=caller)
                break
        client = scope.get("client")
        return Flow(key=client[0] if client else "unknown")

    return flow_of


class Admission:
    """ASGI middleware: each HTTP request holds a seat of its level from its start until its response starts."""

    def __init__(self, app: ASGIApp, *, signed_in: FairQueue, others: FairQueue, flow_of: FlowOf) -> None:
        self.app = app
        self._signed_in = signed_in
        self._others = others
        self._flow_of = flow_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        flow = await self._flow_of(scope)
        if flow.caller is not None:  # verified once: the route's caller dependency reads it from here
            scope.setdefault("state", {})[VERIFIED_CALLER] = flow.caller
        queue = self._signed_in if flow.signed_in else self._others
        try:
            await queue.acquire(flow.key)
        except Throttled as e:
            await error_response(e)(scope, receive, send)
            return
        held = True

        async def send_releasing(message: Message) -> None:
            nonlocal held
            if held and message["type"] == "http.response.start":
                held = False
                queue.release(flow.key)
            await send(message)

        try:
            await self.app(scope, receive, send_releasing)
        finally:
            if held:
                queue.release(flow.key)
