"""Load with a wrong-secret burst: does an unrelated GET stay fast, and does anything answer 5xx?

Starts a real ``tether server`` process on loopback (temp data dir), then:

1. quiet: PROBES (1,000) sequential ``GET resourceGroup`` by one client; their p99 is the baseline (with
   200 it was the second-slowest GET, and moved 4-13 ms between runs);
2. load: REQUESTS mixed requests (GET/list/PUT/DELETE resource groups, GET workspace, token requests
   with the right secret) from CLIENTS concurrent clients, while BURST wrong-secret token requests
   arrive from BURST_CLIENTS more, and one more client repeats the same unrelated GET (the probe).

The probe runs in a process of its own, as an unrelated caller would be: in the load generator's
process its latency also held that process's event loop's backlog (with the probe sent to an idle
second server, 2.2-4.3x there against 1.6-2.2x from its own process).

The load is the bootstrap admin's; the probe is another service principal, a Reader on its own
group (the "unrelated" caller). The server queues waiting requests per caller and serves callers
round-robin (tether.api.admission), so the load's own requests wait behind each other: their GETs'
p50/p99 are printed too, without a goal.

Prints the probe's p50/p99/max quiet and under load, their ratio (goal: under 3x), the status counts,
and the number of 5xx and of dropped connections (goal: 0 each). Exits 1 if there is any. Everything is on 127.0.0.1 and
bounded by the request counts; the load generator shares this machine's cores with the server.

    .venv/bin/python bench/load.py [--requests 2000] [--clients 32] [--burst 600] [--burst-clients 32]
                                   [--probes 1000] [--probe-elsewhere]

``--clients 1 --burst 0`` measures the floor: one other caller sending one request at a time, which the
probe shares the server's one event loop with. ``--probe-elsewhere`` sends the probe to a second, idle
server process on this machine instead: the same load, the same shared cores, but not the same event
loop; the two together say what bounds the ratio (docs/decisions/0028-admission-per-caller.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import ssl
import sys
import tempfile
import time
import uuid
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx2

from _common import percentile
from tether.domain.roles import READER
from tether.server_process import ServerProcess

API = {"api-version": "2024-10-01"}


def token_form(server: ServerProcess, *, secret: str | None = None, client_id: str | None = None) -> dict[str, str]:
    boot = server.bootstrap
    return {
        "grant_type": "client_credentials",
        "client_id": client_id or boot["client_id"],
        "client_secret": secret or boot["client_secret"],
        "scope": f"{server.url}/.default",
    }


async def reader_token(
    client: httpx2.AsyncClient, anonymous: httpx2.AsyncClient, server: ServerProcess, *, token_path: str, scope: str
) -> str:
    """A new service principal (Graph, as the admin) with Reader on ``scope``; its access token."""
    app = (await client.post("/v1.0/applications", json={"displayName": "load-probe"})).raise_for_status().json()
    secret = (await client.post(f"/v1.0/applications/{app['id']}/addPassword", json={})).raise_for_status().json()
    principal = await client.post("/v1.0/servicePrincipals", json={"appId": app["appId"]})
    assignment = {
        "properties": {
            "roleDefinitionId": READER.definition_id(server.bootstrap["subscription_id"]),
            "principalId": principal.raise_for_status().json()["id"],
        }
    }
    url = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    (await client.put(url, params=API, json=assignment)).raise_for_status()
    form = token_form(server, client_id=app["appId"], secret=secret["secretText"])
    return str((await anonymous.post(token_path, data=form)).raise_for_status().json()["access_token"])


async def gets(client: httpx2.AsyncClient, path: str, *, count: int, stop: Connection | None = None) -> list[float]:
    """Sequential GETs of ``path``: ``count`` of them, or until ``stop`` has a message; latencies in ms."""
    latencies: list[float] = []
    while (stop is None and len(latencies) < count) or (stop is not None and not stop.poll()):
        started = time.perf_counter()
        response = await client.get(path, params=API)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"the probe GET answered {response.status_code}: {response.text[:200]}")
    return latencies


def probe_process(orders: Connection, url: str, ca_file: str, token: str, path: str) -> None:
    """The probe's own process: ("count", n) answers n GETs' latencies; ("until",) answers "started", then
    GETs until the next message (("stop",)) and answers their latencies; ("exit",) ends it."""

    async def serve_orders() -> None:
        context = ssl.create_default_context(cafile=ca_file)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(base_url=url, verify=context, timeout=60, headers=headers) as client:
            while (order := orders.recv())[0] != "exit":
                if order[0] == "count":
                    orders.send(await gets(client, path, count=order[1]))
                else:
                    orders.send("started")
                    latencies = await gets(client, path, count=0, stop=orders)
                    orders.recv()
                    orders.send(latencies)

    asyncio.run(serve_orders())


class Prober:
    """The unrelated caller, in a process of its own: the load generator's event loop is not its client's."""

    def __init__(self, server: ServerProcess, *, token: str, path: str) -> None:
        spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this one's loop or clients
        self._orders, theirs = spawn.Pipe()
        self._process = spawn.Process(
            target=probe_process, args=(theirs, server.url, server.ca_file, token, path), daemon=True
        )
        self._process.start()

    async def _ask(self, *order: object) -> Any:
        self._orders.send(order)
        return await asyncio.to_thread(self._orders.recv)

    async def count(self, n: int) -> list[float]:
        return list(await self._ask("count", n))

    async def start(self) -> None:
        await self._ask("until")

    async def stop(self) -> list[float]:
        return list(await self._ask("stop"))

    def close(self) -> None:
        with contextlib.suppress(OSError):  # it has already ended (its error is on stderr)
            self._orders.send(("exit",))
        self._process.join(timeout=30)


async def admin_client(
    server: ServerProcess, stack: contextlib.AsyncExitStack, **options: Any
) -> tuple[httpx2.AsyncClient, httpx2.AsyncClient, str]:
    """Clients of ``server``: anonymous, and signed in as its bootstrap admin; and its token path."""
    context = ssl.create_default_context(cafile=server.ca_file)
    anonymous = await stack.enter_async_context(httpx2.AsyncClient(base_url=server.url, verify=context, **options))
    token_path = f"/{server.bootstrap['tenant_id']}/oauth2/v2.0/token"
    token = (await anonymous.post(token_path, data=token_form(server))).raise_for_status().json()["access_token"]
    admin = await stack.enter_async_context(
        httpx2.AsyncClient(base_url=server.url, verify=context, headers={"Authorization": f"Bearer {token}"}, **options)
    )
    return anonymous, admin, token_path


async def prober_of(server: ServerProcess, stack: contextlib.AsyncExitStack) -> Prober:
    """The probe: a new Reader of its own group ``rg-probe`` on ``server``, GETting that group."""
    async with contextlib.AsyncExitStack() as setup:
        anonymous, admin, token_path = await admin_client(server, setup)
        group = f"/subscriptions/{server.bootstrap['subscription_id']}/resourceGroups/rg-probe"
        (await admin.put(group, params=API, json={"location": "x"})).raise_for_status()
        reader = await reader_token(admin, anonymous, server, token_path=token_path, scope=group)
    prober = Prober(server, token=reader, path=group)
    stack.callback(prober.close)
    return prober


async def run(server: ServerProcess, args: argparse.Namespace, *, probed: ServerProcess) -> int:
    """The load on ``server``; the probe on ``probed`` (the same server, unless --probe-elsewhere)."""
    limits = httpx2.Limits(max_connections=args.clients + args.burst_clients + 4)
    async with contextlib.AsyncExitStack() as stack:
        prober = await prober_of(probed, stack)
        anonymous, client, token_path = await admin_client(server, stack, limits=limits, timeout=httpx2.Timeout(60))
        sub = f"/subscriptions/{server.bootstrap['subscription_id']}"
        (await client.put(f"{sub}/resourceGroups/rg-probe", params=API, json={"location": "x"})).raise_for_status()
        ws = f"{sub}/resourceGroups/rg-probe/providers/Microsoft.MachineLearningServices/workspaces/ws-load"
        (await client.put(ws, params=API, json={})).raise_for_status()
        await prober.count(50)  # warm up connections and caches
        quiet = await prober.count(args.probes)

        statuses: Counter[str] = Counter()
        own_gets: list[float] = []  # the load's own GETs of a group, in ms
        numbers = itertools.count()

        async def mixed(n: int) -> None:
            kind = n % 6
            group = f"{sub}/resourceGroups/rg-load-{n % 50}"
            if kind == 0:
                response = await client.get(f"{sub}/resourceGroups", params=API)
            elif kind == 1:
                response = await client.put(group, params=API, json={"location": "x", "tags": {"n": str(n)}})
            elif kind == 2:
                response = await client.get(ws, params=API)
            elif kind == 3:
                response = await client.delete(group, params=API)
            elif kind == 4:
                response = await anonymous.post(token_path, data=token_form(server))
            else:
                started = time.perf_counter()
                response = await client.get(group, params=API)
                own_gets.append((time.perf_counter() - started) * 1000)
            statuses[f"mixed {response.status_code}"] += 1

        async def mixed_client() -> None:
            while (n := next(numbers)) < args.requests:
                try:
                    await mixed(n)
                except httpx2.TransportError as e:
                    statuses[f"mixed dropped({type(e).__name__})"] += 1

        burst_numbers = itertools.count()

        async def wrong_secret_client() -> None:
            while (n := next(burst_numbers)) < args.burst:
                client_id = server.bootstrap["client_id"] if n % 2 else str(uuid.uuid4())
                try:
                    response = await anonymous.post(
                        token_path, data=token_form(server, secret=f"wrong-{n}", client_id=client_id)
                    )
                except httpx2.TransportError as e:
                    statuses[f"wrong-secret dropped({type(e).__name__})"] += 1
                    continue
                statuses[f"wrong-secret {response.status_code}"] += 1

        await prober.start()
        started = time.perf_counter()
        await asyncio.gather(
            *(mixed_client() for _ in range(args.clients)),
            *(wrong_secret_client() for _ in range(args.burst_clients)),
        )
        elapsed = time.perf_counter() - started
        loaded = await prober.stop()

    server_errors = sum(count for key, count in statuses.items() if key.rsplit(" ", 1)[1].startswith("5"))
    dropped = sum(count for key, count in statuses.items() if "dropped" in key)
    quiet_p99, loaded_p99 = percentile(quiet, 0.99), percentile(loaded, 0.99)
    print(
        f"load: {args.requests} mixed requests from {args.clients} clients + {args.burst} wrong secrets "
        f"from {args.burst_clients} clients in {elapsed:.1f} s"
    )
    for name, latencies in (("quiet     ", quiet), ("under load", loaded)):
        print(
            f"unrelated GET {name} p50 {percentile(latencies, 0.5):7.1f} ms   "
            f"p99 {percentile(latencies, 0.99):7.1f} ms   max {max(latencies):7.1f} ms   (n={len(latencies)})"
        )
    print(f"p99 under load / quiet: {loaded_p99 / quiet_p99:.2f}x (goal < 3x)")
    print(
        f"the load's own GET of a group p50 {percentile(own_gets, 0.5):7.1f} ms   "
        f"p99 {percentile(own_gets, 0.99):7.1f} ms   (n={len(own_gets)}; behind its {args.clients} clients, no goal)"
    )
    print("statuses: " + ", ".join(f"{key}: {count}" for key, count in sorted(statuses.items())))
    print(f"5xx answers: {server_errors} (goal 0); dropped connections: {dropped} (goal 0)")
    return 1 if server_errors or dropped else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--burst", type=int, default=600)
    parser.add_argument("--burst-clients", type=int, default=32)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument(
        "--probe-elsewhere",
        action="store_true",
        help="probe a second, idle server on this machine: what sharing the cores costs, without the event loop",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tether-load-") as tmp:
        server = ServerProcess.start(Path(tmp) / "server")
        probed = server
        try:
            if args.probe_elsewhere:
                probed = ServerProcess.start(Path(tmp) / "probed")
            status = asyncio.run(run(server, args, probed=probed))
        finally:
            server.stop()
            if probed is not server:
                probed.stop()
        if status:  # the server's own account of what failed, before the temp dir goes
            log = server.log_path.read_text(errors="replace").splitlines()
            print("server log (errors):", *[line for line in log if "ERROR" in line or "Error" in line][-20:], sep="\n")
    sys.exit(status)


if __name__ == "__main__":
    main()
