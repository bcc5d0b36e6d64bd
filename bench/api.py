"""API throughput: authenticated ``GET workspace`` on tether server vs a bare FastAPI endpoint.

Both run as uvicorn processes with the same TLS certificate on this machine; the load generator
(httpx, CONCURRENCY keep-alive connections) alternates between them in ROUNDS rounds so that noise
on this shared machine hits both alike. Prints requests/s per round, the medians, and their ratio
(goal: tether/bare >= 0.5). The load generator shares the 2 cores with the server under test, so
absolute figures are low; the ratio is the figure to read.

    .venv/bin/python bench/api.py [--seconds 3] [--rounds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tether.server_process import ServerProcess

API = {"api-version": "2024-10-01"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def throughput(url: str, *, headers: dict[str, str], ca: str, seconds: float, concurrency: int) -> float:
    context = ssl.create_default_context(cafile=ca)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(verify=context, limits=limits, headers=headers) as client:
        (await client.get(url, params=API)).raise_for_status()  # warm up, and prove it answers 200
        count = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                response = await client.get(url, params=API)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


def _token_and_workspace(server: ServerProcess) -> tuple[dict[str, str], str]:
    """Log in as the bootstrap admin and create the workspace the benchmark reads."""
    b = server.bootstrap
    with httpx.Client(verify=ssl.create_default_context(cafile=server.ca_file)) as http:
        token = http.post(
            f"{server.url}/{b['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": b["client_id"],
                "client_secret": b["client_secret"],
                "scope": f"{server.url}/.default",
            },
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        rg = f"{server.url}/subscriptions/{b['subscription_id']}/resourceGroups/bench"
        http.put(rg, params=API, json={"location": "local"}, headers=auth).raise_for_status()
        ws = f"{rg}/providers/Microsoft.MachineLearningServices/workspaces/bench-ws"
        http.put(ws, params=API, json={}, headers=auth).raise_for_status()
    return auth, ws


def _wait_until_answers(url: str, *, ca: str) -> None:
    for _ in range(100):
        try:
            httpx.get(url, verify=ssl.create_default_context(cafile=ca)).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


async def measure(*, bare_url: str, ws: str, auth: dict[str, str], ca: str, args: argparse.Namespace) -> None:
    tether_rates, bare_rates = [], []
    print(f"{'round':>5}  {'bare req/s':>10}  {'tether req/s':>12}  {'ratio':>6}")
    for i in range(args.rounds):
        r_bare = await throughput(bare_url, headers={}, ca=ca, seconds=args.seconds, concurrency=args.concurrency)
        r_tether = await throughput(ws, headers=auth, ca=ca, seconds=args.seconds, concurrency=args.concurrency)
        bare_rates.append(r_bare)
        tether_rates.append(r_tether)
        print(f"{i + 1:>5}  {r_bare:>10.0f}  {r_tether:>12.0f}  {r_tether / r_bare:>6.2f}")
    m_bare, m_tether = statistics.median(bare_rates), statistics.median(tether_rates)
    print(
        f"median bare {m_bare:.0f} req/s, tether GET workspace (authenticated) {m_tether:.0f} req/s, "
        f"ratio {m_tether / m_bare:.2f} (goal >= 0.5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        server = ServerProcess.start(Path(tmp) / "server")
        bare_port = free_port()
        data = server.data_dir
        script = str(Path(__file__).with_name("_bare_server.py"))
        bare = subprocess.Popen(
            [sys.executable, script, str(bare_port), str(data / "server.pem"), str(data / "server-key.pem")]
        )
        try:
            auth, ws = _token_and_workspace(server)
            bare_url = f"https://127.0.0.1:{bare_port}/bare"
            _wait_until_answers(bare_url, ca=server.ca_file)
            asyncio.run(measure(bare_url=bare_url, ws=ws, auth=auth, ca=server.ca_file, args=args))
        finally:
            bare.terminate()
            bare.wait()
            server.stop()


if __name__ == "__main__":
    main()
