"""Load with a wrong-secret burst: does an unrelated GET stay fast, and does anything answer 5xx?

Starts a real ``tether server`` process on loopback (temp data dir), then:

1. quiet: PROBES (1,000) sequential ``GET resourceGroup`` by one client; their p99 is the baseline (with
   200 it was the second-slowest GET, and moved 4-13 ms between runs);
2. load: REQUESTS mixed requests (GET/list/PUT/DELETE resource groups, GET workspace, token requests
   with the right secret) from CLIENTS concurrent clients, while BURST wrong-secret token requests
   arrive from BURST_CLIENTS more, and one more client repeats the same unrelated GET (the probe).

The load is the bootstrap admin's; the probe is another service principal, a Reader on its own
group (the "unrelated" caller). The server queues waiting requests per caller and serves callers
round-robin (tether.api.admission), so the load's own requests wait behind each other: their GETs'
p50/p99 are printed too, without a goal.

Prints the probe's p50/p99 quiet and under load, their ratio (goal: under 3x), the status counts,
and the number of 5xx and of dropped connections (goal: 0 each). Exits 1 if there is any. Everything is on 127.0.0.1 and
bounded by the request counts; the load generator shares this machine's cores with the server.

    .venv/bin/python bench/load.py [--requests 2000] [--clients 32] [--burst 600] [--burst-clients 32]

``--clients 1 --burst 0`` measures the floor: one other caller sending one request at a time, which the
probe shares the server's one event loop with (docs/decisions/0028-admission-per-caller.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import ssl
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

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


async def probe(client: httpx2.AsyncClient, path: str, *, until: asyncio.Event | None, count: int) -> list[float]:
    """Sequential GETs of ``path``: ``count`` of them, or until ``until`` is set; latencies in ms."""
    latencies: list[float] = []
    while (until is None and len(latencies) < count) or (until is not None and not until.is_set()):
        started = time.perf_counter()
        response = await client.get(path, params=API)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"the probe GET answered {response.status_code}: {response.text[:200]}")
    return latencies


async def run(server: ServerProcess, args: argparse.Namespace) -> int:
    context = ssl.create_default_context(cafile=server.ca_file)
    limits = httpx2.Limits(max_connections=args.clients + args.burst_clients + 4)
    timeout = httpx2.Timeout(60)
    async with (
        contextlib.AsyncExitStack() as stack,
        httpx2.AsyncClient(base_url=server.url, verify=context, limits=limits, timeout=timeout) as anonymous,
    ):
        tenant = server.bootstrap["tenant_id"]
        token_path = f"/{tenant}/oauth2/v2.0/token"
        token = (await anonymous.post(token_path, data=token_form(server))).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        sub = f"/subscriptions/{server.bootstrap['subscription_id']}"
        async with httpx2.AsyncClient(
            base_url=server.url, verify=context, limits=limits, timeout=timeout, headers=headers
        ) as client:
            (await client.put(f"{sub}/resourceGroups/rg-probe", params=API, json={"location": "x"})).raise_for_status()
            ws = f"{sub}/resourceGroups/rg-probe/providers/Microsoft.MachineLearningServices/workspaces/ws-load"
            (await client.put(ws, params=API, json={})).raise_for_status()
            probe_path = f"{sub}/resourceGroups/rg-probe"
            reader = await reader_token(client, anonymous, server, token_path=token_path, scope=probe_path)
            prober = await stack.enter_async_context(
                httpx2.AsyncClient(
                    base_url=server.url,
                    verify=context,
                    timeout=timeout,
                    headers={"Authorization": f"Bearer {reader}"},
                )
            )

            await probe(prober, probe_path, until=None, count=50)  # warm up connections and caches
            quiet = await probe(prober, probe_path, until=None, count=args.probes)

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

            done = asyncio.Event()
            probing = asyncio.create_task(probe(prober, probe_path, until=done, count=0))
            started = time.perf_counter()
            await asyncio.gather(
                *(mixed_client() for _ in range(args.clients)),
                *(wrong_secret_client() for _ in range(args.burst_clients)),
            )
            elapsed = time.perf_counter() - started
            done.set()
            loaded = await probing

    server_errors = sum(count for key, count in statuses.items() if key.rsplit(" ", 1)[1].startswith("5"))
    dropped = sum(count for key, count in statuses.items() if "dropped" in key)
    quiet_p99, loaded_p99 = percentile(quiet, 0.99), percentile(loaded, 0.99)
    print(
        f"load: {args.requests} mixed requests from {args.clients} clients + {args.burst} wrong secrets "
        f"from {args.burst_clients} clients in {elapsed:.1f} s"
    )
    print(f"unrelated GET quiet      p50 {percentile(quiet, 0.5):7.1f} ms   p99 {quiet_p99:7.1f} ms   (n={len(quiet)})")
    print(
        f"unrelated GET under load p50 {percentile(loaded, 0.5):7.1f} ms   p99 {loaded_p99:7.1f} ms   (n={len(loaded)})"
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tether-load-") as tmp:
        server = ServerProcess.start(Path(tmp) / "server")
        try:
            status = asyncio.run(run(server, args))
        finally:
            server.stop()
        if status:  # the server's own account of what failed, before the temp dir goes
            log = server.log_path.read_text(errors="replace").splitlines()
            print("server log (errors):", *[line for line in log if "ERROR" in line or "Error" in line][-20:], sep="\n")
    sys.exit(status)


if __name__ == "__main__":
    main()
