"""Relay overhead: Kubernetes GET latency and watch-event delivery, direct versus through the tunnel.

One run: the hub under uvicorn (TLS, loopback) in this process, the connect agent as a separate
process (``tether agent connect``) dialling it, and a local cluster (started here, or ``--kubeconfig``).
Then, with lightkube:

* GET of one ConfigMap, ``-n`` times each way, interleaved (direct, relay, relay, direct, ...) so that
  noise on this shared 2-core machine hits both alike: p50, p99 and the ratio relay/direct
  (goal: relay p50 <= 1.5x direct).
* Watch-event delivery: one watch direct and one through the relay, open at the same time; each of
  ``--events`` ConfigMap creates is timed from just before the create call until each watch yields
  it (p50, p99).

The listening socket gets TCP_NODELAY, as the production server should; ``--no-nodelay`` shows the
cost of leaving it out.

    .venv/bin/python bench/relay.py [-n 300] [--events 100] [--kubeconfig FILE] [--no-nodelay] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from lightkube import AsyncClient, KubeConfig
from lightkube.config.models import Cluster, User
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from _common import Results, add_json_out, local_or_given_cluster, summary, verdict
from tether import pki
from tether.relay import RelayHub

CLUSTER_KEY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench"
    "/providers/Microsoft.Kubernetes/connectedClusters/bench"
)
CREDENTIAL = secrets.token_urlsafe(24)
GOAL_RATIO = 1.5


@asynccontextmanager
async def relay_server(workdir: Path, *, nodelay: bool) -> AsyncIterator[tuple[RelayHub, str, Path]]:
    ca = pki.create_ca("relay-bench-ca")
    serving = pki.issue_certificate(ca, "relay", ip_addresses=["127.0.0.1"])
    pki.write_pem(workdir / "ca.pem", ca.cert_pem)
    pki.write_pem(workdir / "tls.crt", serving.cert_pem)
    pki.write_pem(workdir / "tls.key", serving.key_pem, private=True)

    async def authenticate(key: str, credential: str) -> bool:
        return key == CLUSTER_KEY and credential == CREDENTIAL

    hub = RelayHub(authenticate=authenticate)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        Starlette(routes=[WebSocketRoute("/relay/connect", hub.serve)]),
        ssl_certfile=str(workdir / "tls.crt"),
        ssl_keyfile=str(workdir / "tls.key"),
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        raise RuntimeError("uvicorn did not start within 10 s")
    try:
        yield hub, f"wss://127.0.0.1:{sock.getsockname()[1]}/relay/connect", workdir / "ca.pem"
    finally:
        await hub.close()
        server.should_exit = True
        await task
        sock.close()


def start_agent(workdir: Path, *, relay_url: str, ca_file: Path, kubeconfig: Path) -> subprocess.Popen[bytes]:
    credential_file = workdir / "credential"
    fd = os.open(credential_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(CREDENTIAL)
    argv = [sys.executable, "-m", "tether", "agent", "connect", "--relay-url", relay_url]
    argv += ["--cluster-id", CLUSTER_KEY, "--credential-file", str(credential_file)]
    argv += ["--kubeconfig", str(kubeconfig), "--ca-file", str(ca_file)]
    with (workdir / "agent.log").open("wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


async def timed_gets(direct: AsyncClient, relayed: AsyncClient, *, namespace: str, n: int) -> tuple[list[float], ...]:
    direct_ms: list[float] = []
    relay_ms: list[float] = []
    for i in range(n):
        order = [(direct, direct_ms), (relayed, relay_ms)]
        for client, sink in order if i % 2 == 0 else reversed(order):
            started = time.perf_counter()
            await client.get(ConfigMap, "bench", namespace=namespace)
            sink.append((time.perf_counter() - started) * 1000)
    return direct_ms, relay_ms


async def watch_delivery(
    direct: AsyncClient, relayed: AsyncClient, *, namespace: str, events: int
) -> tuple[list[float], list[float]]:
    created_at: dict[str, float] = {}
    arrivals: dict[str, dict[str, float]] = {"direct": {}, "relay": {}}
    labels = {"bench": "watch"}

    async def watch(client: AsyncClient, sink: dict[str, float]) -> None:
        async for op, obj in client.watch(ConfigMap, namespace=namespace, labels=labels):
            if op == "ADDED" and obj.metadata is not None and obj.metadata.name is not None:
                sink[obj.metadata.name] = time.perf_counter()

    tasks = [asyncio.create_task(watch(c, arrivals[k])) for c, k in ((direct, "direct"), (relayed, "relay"))]
    try:
        await asyncio.sleep(0.5)  # both watches are established
        for i in range(events):
            name = f"watched-{i}"
            created_at[name] = time.perf_counter()
            await direct.create(ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, labels=labels)))
            deadline = time.monotonic() + 10
            while name not in arrivals["direct"] or name not in arrivals["relay"]:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"watch event for {name} did not arrive within 10 s")
                await asyncio.sleep(0.0005)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return (
        [(arrivals["direct"][n] - t) * 1000 for n, t in created_at.items()],
        [(arrivals["relay"][n] - t) * 1000 for n, t in created_at.items()],
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="GETs per path")
    parser.add_argument("--events", type=int, default=100, help="watch events timed")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="use this cluster instead of starting one")
    parser.add_argument("--no-nodelay", action="store_true", help="leave TCP_NODELAY off the relay's socket")
    add_json_out(parser)
    args = parser.parse_args()

    async with local_or_given_cluster(args.kubeconfig, name="relay-bench", gpu_nodes=0) as kubeconfig:
        with tempfile.TemporaryDirectory(prefix="tether-relay-bench-") as tmp:
            workdir = Path(tmp)
            async with relay_server(workdir, nodelay=not args.no_nodelay) as (hub, url, ca_file):
                agent = start_agent(workdir, relay_url=url, ca_file=ca_file, kubeconfig=kubeconfig)
                try:
                    deadline = time.monotonic() + 30
                    while not hub.connected(CLUSTER_KEY):
                        if agent.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError((workdir / "agent.log").read_text())
                        await asyncio.sleep(0.05)
                    namespace = f"relay-bench-{secrets.token_hex(3)}"
                    placeholder = KubeConfig.from_one(cluster=Cluster(server="https://relay.invalid"), user=User())
                    async with (
                        AsyncClient(KubeConfig.from_file(kubeconfig), trust_env=False) as direct,
                        AsyncClient(placeholder, transport=hub.transport(CLUSTER_KEY), trust_env=False) as relayed,
                    ):
                        await direct.create(Namespace(metadata=ObjectMeta(name=namespace)))
                        try:
                            cm = ConfigMap(metadata=ObjectMeta(name="bench", namespace=namespace), data={"k": "v"})
                            await direct.create(cm)
                            await timed_gets(direct, relayed, namespace=namespace, n=20)  # warm up both paths
                            direct_ms, relay_ms = await timed_gets(direct, relayed, namespace=namespace, n=args.n)
                            watch_direct, watch_relay = await watch_delivery(
                                direct, relayed, namespace=namespace, events=args.events
                            )
                        finally:
                            await direct.delete(Namespace, namespace)
                finally:
                    agent.send_signal(signal.SIGTERM)
                    agent.wait(timeout=15)

    nodelay = "off (--no-nodelay)" if args.no_nodelay else "on"
    print(f"relay benchmark: GET ConfigMap x{args.n} per path (interleaved), {args.events} watch events;")
    print(f"hub in this process (uvicorn, TLS), agent in its own process; TCP_NODELAY on the relay socket: {nodelay}")
    print(summary("GET direct", direct_ms, width=34, digits=2))
    print(summary("GET through the relay", relay_ms, width=34, digits=2))
    ratio = statistics.median(relay_ms) / statistics.median(direct_ms)
    print(f"{'ratio relay/direct (p50)':<34} {ratio:.2f}x (goal <= {GOAL_RATIO}x): {verdict(ratio, GOAL_RATIO)}")
    print(summary("watch event delivery, direct", watch_direct, width=34, digits=2))
    print(summary("watch event delivery, relay", watch_relay, width=34, digits=2))
    results = Results("relay", args.json_out)
    results.add("Kubernetes GET direct, p50", statistics.median(direct_ms), "ms", samples=direct_ms)
    results.add("Kubernetes GET through the relay, p50", statistics.median(relay_ms), "ms", samples=relay_ms)
    results.add("relay / direct GET, p50", ratio, "x", goal=GOAL_RATIO)
    results.save()


if __name__ == "__main__":
    asyncio.run(main())
