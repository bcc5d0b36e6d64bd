"""Attach latency: from the PUT of a compute to its operation reading ``Succeeded``, per cluster kind, and the floor.

One run sets up what the seed needs, through the CLI as a user would: a local cluster (started here, or
``--kubeconfig``), a real ``tether server`` process, a managed cluster (``aks create``), a connected one
(``connectedk8s connect --agent-process``: its agent dials the server's relay) and the ML extension on
both (``k8s-extension create --operator-process``), and a workspace with a system-assigned identity
(its roles are granted by the warm-up attaches, S10). Then:

* ``-n`` attaches per kind, interleaved (managed, connected, managed, ...) so that noise on this shared
  2-core machine hits both alike. Each is timed from just before the PUT until the operation status,
  polled every ``--poll-ms`` on one keep-alive HTTPS connection, reads ``Succeeded``.
* The floor, like for like: the Kubernetes calls an attach makes (``GET /version``, list InstanceTypes,
  read the extension's health: its settings ConfigMap, status ConfigMap and heartbeat Lease), made
  directly from this process through the same pooled connection the server uses
  (``kube.access.ClusterAccess`` over ``kube/pool.py``: one client per cluster, kept open). The verdict
  is read against it. For context only, the same calls with a fresh client (and TLS handshake) each time.

Prints p50/p99 of each and the ratios; goal: attach p50 under 250 ms and within 3x the pooled floor.

    .venv/bin/python bench/attach.py [-n 50] [--warmup 3] [--poll-ms 5] [--kubeconfig FILE] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ssl
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from lightkube.config.kubeconfig import SingleConfig

from _common import Cli, Results, add_json_out, local_or_given_cluster, percentile, summary
from tether.client import TetherClient
from tether.client.profile import profile_from_bootstrap
from tether.kube.access import ClusterAccess, ClusterConnection, direct_connection, parse_kubeconfig
from tether.kube.extension_status import read_health, read_instance_types
from tether.kube.probe import ping
from tether.server_process import ServerProcess

API = {"api-version": "2024-10-01"}
RG = "bench-rg"
WORKSPACE = "bench-ws"
GOAL_P50_MS = 250.0
GOAL_RATIO = 3.0


@contextmanager
def tether_with_clusters(workdir: Path, kubeconfig: Path) -> Iterator[tuple[ServerProcess, str, str]]:
    """The server, with a managed and a connected cluster both carrying the ML extension; yields their ids."""
    server = ServerProcess.start(workdir / "server")
    cli = Cli(server, workdir / "config")
    try:
        cli(f"login --bootstrap {server.data_dir} -o none")
        cli(f"group create -n {RG} -l westeurope -o none")
        cli(f"aks create -g {RG} -n bench-aks --kubeconfig {kubeconfig} -o none")
        cli(f"connectedk8s connect -g {RG} -n bench-arc --kubeconfig {kubeconfig} --agent-process -o none")
        for kind, name in (("managedClusters", "bench-aks"), ("connectedClusters", "bench-arc")):
            cli(
                f"k8s-extension create --name azureml --extension-type Microsoft.AzureML.Kubernetes "
                f"--config enableTraining=True --cluster-type {kind} --cluster-name {name} --resource-group {RG} "
                f"--scope cluster --operator-process --kubeconfig {kubeconfig} -o none"
            )
        cli(f"ml workspace create -n {WORKSPACE} -g {RG} -o none")
        group = f"/subscriptions/{server.bootstrap['subscription_id']}/resourceGroups/{RG}"
        yield (
            server,
            f"{group}/providers/Microsoft.ContainerService/managedClusters/bench-aks",
            f"{group}/providers/Microsoft.Kubernetes/connectedClusters/bench-arc",
        )
    finally:
        cli.stop_agents()
        server.stop()


@dataclass(frozen=True)
class Attach:
    total_s: float  # PUT sent -> operation seen Succeeded
    put_s: float  # PUT sent -> 201 received
    server_s: float  # the operation's startTime -> endTime, as the server records them


async def attach_once(http: httpx2.AsyncClient, compute_id: str, cluster_id: str, *, poll_s: float) -> Attach:
    """One attach, timed (raises unless it Succeeded)."""
    body = {
        "properties": {"computeType": "Kubernetes", "resourceId": cluster_id, "properties": {"namespace": "default"}}
    }
    started = time.perf_counter()
    response = await http.put(compute_id, params=API, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"PUT {compute_id} answered {response.status_code}: {response.text[:300]}")
    put_s = time.perf_counter() - started
    operation = response.headers["Azure-AsyncOperation"]
    while True:
        status = (await http.get(operation)).json()
        if status["status"] != "InProgress":
            break
        await asyncio.sleep(poll_s)
    elapsed = time.perf_counter() - started
    if status["status"] != "Succeeded":
        raise RuntimeError(f"attach of {compute_id} ended {status['status']}: {status.get('error')}")
    server_s = (_instant(status["endTime"]) - _instant(status["startTime"])).total_seconds()
    return Attach(elapsed, put_s, server_s)


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def kubernetes_calls(connection: ClusterConnection) -> None:
    """What an attach asks of the cluster (reconcile/attach.py: read_cluster)."""
    await ping(connection)
    await read_instance_types(connection.kube)
    await read_health(connection.kube)


async def fresh_once(config: SingleConfig) -> float:
    """Seconds for the attach's Kubernetes calls made directly with a fresh client (context only)."""
    started = time.perf_counter()
    connection = direct_connection(config)
    try:
        await kubernetes_calls(connection)
    finally:
        await connection.close()
    return time.perf_counter() - started


async def pooled_once(access: ClusterAccess) -> float:
    """Seconds for the attach's Kubernetes calls through the server's kind of pooled connection: the floor."""
    started = time.perf_counter()
    async with access.connect("bench-floor", connected=False) as connection:
        await kubernetes_calls(connection)
    return time.perf_counter() - started


async def measure(
    server: ServerProcess, clusters: dict[str, str], kubeconfig: Path, *, count: int, warmup: int, poll_s: float
) -> dict[str, list[float]]:
    """Attaches per kind and floor samples, interleaved; seconds per series."""
    with TetherClient(profile_from_bootstrap(server.data_dir)) as client:
        token = client.access_token()
    group = f"/subscriptions/{server.bootstrap['subscription_id']}/resourceGroups/{RG}"
    workspace = f"{group}/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
    text = kubeconfig.read_text()
    config = parse_kubeconfig(text)
    series: dict[str, list[float]] = defaultdict(list)

    async def the_kubeconfig(_: str) -> str:
        return text

    pooled = ClusterAccess(kubeconfigs=the_kubeconfig, relay=None, kubeconfig_ttl_s=3600)
    verify = ssl.create_default_context(cafile=server.ca_file)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx2.AsyncClient(base_url=server.url, verify=verify, headers=headers, timeout=30) as http:
            for i in range(warmup + count):
                samples: dict[str, float] = {}
                for kind, cluster_id in clusters.items():
                    done = await attach_once(http, f"{workspace}/computes/{kind[0]}-{i:03d}", cluster_id, poll_s=poll_s)
                    samples |= {kind: done.total_s, f"{kind} PUT": done.put_s, f"{kind} server": done.server_s}
                samples["floor"] = await pooled_once(pooled)
                samples["fresh"] = await fresh_once(config)
                if i >= warmup:
                    for kind, seconds in samples.items():
                        series[kind].append(seconds)
    finally:
        await pooled.aclose()
    return series


def report(series_ms: dict[str, list[float]], kinds: list[str], results: Results) -> None:
    floor_p50 = percentile(series_ms["floor"], 0.5)
    for kind in kinds:
        print(summary(f"attach to Succeeded, {kind} cluster", series_ms[kind]))
        print(summary("  of which the PUT's answer (201)", series_ms[f"{kind} PUT"]))
        print(summary("  operation created -> finished (server)", series_ms[f"{kind} server"]))
    print(summary("floor: the same Kubernetes calls, pooled client", series_ms["floor"], width=48))
    print(summary("  (context: a fresh client each time)", series_ms["fresh"], width=48))
    results.add("floor: attach's Kubernetes calls, pooled client, p50", floor_p50, "ms", samples=series_ms["floor"])
    results.add(
        "context: the same calls with a fresh client, p50",
        percentile(series_ms["fresh"], 0.5),
        "ms",
        samples=series_ms["fresh"],
    )
    for kind in kinds:
        p50 = percentile(series_ms[kind], 0.5)
        ratio = p50 / floor_p50
        verdict = "met" if p50 < GOAL_P50_MS and ratio <= GOAL_RATIO else "MISSED"
        print(
            f"{kind}: p50 {p50:.1f} ms = {ratio:.1f}x the pooled floor's p50 "
            f"(goal: under {GOAL_P50_MS:.0f} ms and within {GOAL_RATIO:.0f}x): {verdict}"
        )
        results.add(f"attach to Succeeded, {kind} cluster, p50", p50, "ms", goal=GOAL_P50_MS, samples=series_ms[kind])
        results.add(f"attach {kind} / pooled floor, p50", ratio, "x", goal=GOAL_RATIO)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="attaches per cluster kind (and floor samples)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (they grant the roles, S10)")
    parser.add_argument("--poll-ms", type=float, default=5.0, help="operation status polling interval")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="use this cluster instead of starting one")
    add_json_out(parser)
    args = parser.parse_args()

    async with local_or_given_cluster(args.kubeconfig, name="attach-bench") as kubeconfig:
        with tempfile.TemporaryDirectory(prefix="tether-attach-bench-") as tmp:
            started = time.perf_counter()
            with tether_with_clusters(Path(tmp), kubeconfig) as (server, managed, connected):
                print(f"set up in {time.perf_counter() - started:.1f} s; {args.n} attaches per kind (+{args.warmup})")
                series = await measure(
                    server,
                    {"managed": managed, "connected": connected},
                    kubeconfig,
                    count=args.n,
                    warmup=args.warmup,
                    poll_s=args.poll_ms / 1000,
                )
    results = Results("attach", args.json_out)
    report({kind: [s * 1000 for s in seconds] for kind, seconds in series.items()}, ["managed", "connected"], results)
    results.save()


if __name__ == "__main__":
    asyncio.run(main())
