"""Job dispatch: from a job's PUT to its pod created, against the kube-native path (a ``batch/v1`` Job) and the floor.

One run sets up, through the CLI as a user would: a local cluster (started here with 3 CPU nodes, or
``--kubeconfig``), a real ``tether server`` process, a managed cluster (``aks create``) with the ML
extension (``k8s-extension create --operator-process``: the operator runs here as a local process), a
workspace, a tiny InstanceType and a compute with a system-assigned identity on namespace
``bench-jobs`` (so every dispatch also federates the identity, as real jobs do). One pod watch on
that namespace, opened before anything is timed, records when each pod is first seen. Each anchor is
one ``Bench.one_*`` method (start something, wait until the watch yields its pod), run interleaved
in the same loop on the same cluster, so load on this shared machine hits all alike:

* Tether: a job's PUT until its pod is seen.
* The anchor, what a user without Tether submits: a ``batch/v1`` Job with the same pod template
  (the pod the operator rendered for the first warm-up job), created directly, until the pod that
  kube-controller-manager's job controller makes is seen. Two API-server writes in a row, as Tether's
  path (TetherJob, then pod). Goals: Tether p50 at most 1.2x this, throughput at least 0.8x.
* The floor, the physical limit: the same pod created directly (one write).
* The design bound without Tether's server: the first warm-up job's TetherJob created directly (new
  name, no ``managed-by`` label, so the server ignores it) until the operator's pod is seen.

Throughput: ``--burst`` jobs submitted at once (``--concurrency`` requests in flight), first submit to
last pod seen, for Tether, the batch Job and the bare pod, ``--burst-rounds`` rounds interleaved.
Throughput here is bound by CPU (every process of the run shares the machine's cores), so each burst
also reports what one job cost: CPU per job by process (from /proc, the run's processes only) and
API-server writes per job by resource (the API server's own ``apiserver_request_total``), counted
until two seconds after the burst's last pod so that the status writes which follow each pod count too.

The pods of the local cluster never run (kwok nodes; see the README's "What is real and what is
simulated"), so "pod created" is where all anchors stop. A mode for a real node would add a milestone
to ``PodWatch`` (container started) and wait for it in the same ``one_*`` methods.

    .venv/bin/python bench/dispatch.py [-n 200] [--burst 200] [--burst-rounds 1] [--concurrency 16] [--warmup 3]
        [--kubeconfig FILE] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import re
import ssl
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Namespace, Pod

from _common import Cli, Results, add_json_out, local_or_given_cluster, percentile, summary
from tether.client import TetherClient
from tether.client.profile import profile_from_bootstrap
from tether.kube.resources import InstanceType, TetherJob
from tether.localcluster import NODE_POOL_LABEL
from tether.server_process import ServerProcess

API = {"api-version": "2024-10-01"}
RG = "bench-rg"
WORKSPACE = "bench-ws"
CLUSTER = "bench-aks"
COMPUTE = "bench-compute"
NAMESPACE = "bench-jobs"
INSTANCE_TYPE = "bench-tiny"
JOB_NAME_ANNOTATION = "tether.dev/job-name"
JOB_LABEL = "tether.dev/job"
BATCH_JOB_LABEL = "batch.kubernetes.io/job-name"
GOAL_RATIO = 1.2  # Tether's p50 / the batch Job's p50
GOAL_THROUGHPUT = 0.8  # Tether's jobs/s / the batch Job's


# --- setup ----------------------------------------------------------------------------------------------


async def prepare_cluster(kubeconfig: Path) -> None:
    """The compute's namespace and a tiny instance type (so that hundreds of pods fit at once); after the
    extension's install, which brings the InstanceType CRD. Both may exist already (``--kubeconfig``)."""
    spec = {
        "nodeSelector": {NODE_POOL_LABEL: "cpu"},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "10m", "memory": "16Mi"}},
    }
    async with AsyncClient(KubeConfig.from_file(kubeconfig), trust_env=False) as kube:
        for resource in (
            Namespace(metadata=ObjectMeta(name=NAMESPACE)),
            InstanceType(metadata=ObjectMeta(name=INSTANCE_TYPE), spec=spec),
        ):
            try:
                await kube.create(resource)
            except ApiError as e:
                if e.status.code != 409:
                    raise


def wait_instance_type_reported(server: ServerProcess, name: str, *, timeout_s: float = 30) -> None:
    """Jobs naming an instance type the cluster has not reported yet are refused (docs/sdk-jobs.md): wait for
    the ML extension's next health report (every few seconds) to list one created after the attach."""
    group = f"/subscriptions/{server.bootstrap['subscription_id']}/resourceGroups/{RG}"
    extension = (
        f"{group}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"
        "/providers/Microsoft.KubernetesConfiguration/extensions/azureml"
    )
    deadline = time.monotonic() + timeout_s
    with TetherClient(profile_from_bootstrap(server.data_dir)) as client:
        while name not in (client.get(extension)["properties"].get("instanceTypes") or {}):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the ML extension did not report instance type {name} in {timeout_s:.0f} s")
            time.sleep(0.5)


@contextmanager
def tether_with_compute(workdir: Path, kubeconfig: Path) -> Iterator[tuple[ServerProcess, str]]:
    """The server with a managed cluster, its ML extension and a compute; yields the server and the workspace id."""
    server = ServerProcess.start(workdir / "server")
    cli = Cli(server, workdir / "config")
    try:
        cli(f"login --bootstrap {server.data_dir} -o none")
        cli(f"group create -n {RG} -l westeurope -o none")
        cli(f"aks create -g {RG} -n {CLUSTER} --kubeconfig {kubeconfig} -o none")
        cli(
            f"k8s-extension create --name azureml --extension-type Microsoft.AzureML.Kubernetes "
            f"--config enableTraining=True --cluster-type managedClusters --cluster-name {CLUSTER} "
            f"--resource-group {RG} --scope cluster --operator-process --kubeconfig {kubeconfig} -o none"
        )
        cli(f"ml workspace create -n {WORKSPACE} -g {RG} -o none")
        group = f"/subscriptions/{server.bootstrap['subscription_id']}/resourceGroups/{RG}"
        cli(
            f"ml compute attach -g {RG} -w {WORKSPACE} --type Kubernetes -n {COMPUTE} --resource-id "
            f"{group}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER} --namespace {NAMESPACE} "
            "--identity-type SystemAssigned -o none"
        )
        yield server, f"{group}/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
    finally:
        cli.stop_agents()
        server.stop()


# --- measuring --------------------------------------------------------------------------------------------


class PodWatch:
    """When each pod of the namespace was first seen (job pods by their job's name, others by pod name)."""

    def __init__(self, kube: AsyncClient) -> None:
        self._kube = kube
        self.seen: dict[str, float] = {}
        self.pods: dict[str, Pod] = {}
        self._changed = asyncio.Condition()

    async def run(self) -> None:
        async for _, pod in self._kube.watch(Pod, namespace=NAMESPACE):
            now = time.perf_counter()
            meta = pod.metadata
            if meta is None or not meta.name:
                continue
            labels = meta.labels or {}
            key = (meta.annotations or {}).get(JOB_NAME_ANNOTATION) if JOB_LABEL in labels else None
            key = key or labels.get(BATCH_JOB_LABEL) or meta.name
            if key not in self.seen:
                self.seen[key] = now
                self.pods[key] = pod
                async with self._changed:
                    self._changed.notify_all()

    async def wait(self, key: str, *, timeout: float = 60) -> float:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: key in self.seen), timeout)
        return self.seen[key]


def job_body() -> dict[str, Any]:
    return {
        "properties": {
            "jobType": "Command",
            "command": "python train.py",
            "environment": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"},
            "computeId": f"azureml:{COMPUTE}",
            "resources": {"instanceType": INSTANCE_TYPE, "instanceCount": 1},
            "tags": {"tether.dev/simulate-duration": "1s"},
        }
    }


def floor_pod(template: Pod, name: str) -> Pod:
    """The operator's pod under another name, without what ties it to its job or to a node."""
    manifest = template.to_dict()
    metadata = manifest["metadata"]
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != JOB_LABEL}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != JOB_NAME_ANNOTATION}
    spec = {k: v for k, v in manifest["spec"].items() if k not in ("nodeName", "priority")}
    return cast(
        Pod,
        Pod.from_dict(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels, "annotations": annotations},
                "spec": spec,
            }
        ),
    )


def batch_job(template: Pod, name: str) -> Job:
    """A ``batch/v1`` Job whose pod is the operator's (as ``floor_pod`` makes it), run once, never retried."""
    pod = floor_pod(template, name).to_dict()
    spec = {**pod["spec"], "restartPolicy": "Never"}
    return cast(
        Job,
        Job.from_dict(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": {k: pod["metadata"][k] for k in ("labels", "annotations")},
                        "spec": spec,
                    },
                },
            }
        ),
    )


@dataclass
class Bench:
    http: httpx2.AsyncClient
    kube: AsyncClient
    watch: PodWatch
    workspace_id: str
    template: Pod | None = None
    job_spec: dict[str, Any] | None = None
    put_ms: dict[str, float] = field(default_factory=dict)  # PUT sent -> answer received, by job name

    async def put_job(self, name: str) -> float:
        started = time.perf_counter()
        response = await self.http.put(f"{self.workspace_id}/jobs/{name}", params=API, json=job_body())
        if response.status_code not in (200, 201):
            raise RuntimeError(f"PUT job {name} answered {response.status_code}: {response.text[:300]}")
        self.put_ms[name] = (time.perf_counter() - started) * 1000
        return started

    async def create_pod(self, name: str) -> float:
        assert self.template is not None
        pod = floor_pod(self.template, name)
        started = time.perf_counter()
        await self.kube.create(pod)
        return started

    async def create_batch_job(self, name: str) -> float:
        assert self.template is not None
        job = batch_job(self.template, name)
        started = time.perf_counter()
        await self.kube.create(job)
        return started

    async def one_batch_job(self, name: str) -> float:
        """The kube-native anchor: a batch/v1 Job created -> the pod its controller made, seen."""
        started = await self.create_batch_job(name)
        return await self.watch.wait(name) - started

    async def one_job(self, name: str) -> float:
        started = await self.put_job(name)
        try:
            return await self.watch.wait(name) - started
        except TimeoutError:
            job = (await self.http.get(f"{self.workspace_id}/jobs/{name}", params=API)).json()
            raise RuntimeError(f"job {name} has no pod: {job.get('properties')}") from None

    async def one_pod(self, name: str) -> float:
        started = await self.create_pod(name)
        return await self.watch.wait(name) - started

    async def one_tether_job(self, name: str) -> float:
        """A TetherJob created directly (the operator's part alone): create -> its pod seen."""
        assert self.job_spec is not None
        spec = {**self.job_spec, "jobName": name}
        job = TetherJob(metadata=ObjectMeta(name=name, namespace=NAMESPACE), spec=spec)
        started = time.perf_counter()
        await self.kube.create(job)
        return await self.watch.wait(name) - started

    async def warm_up_job_spec(self) -> dict[str, Any]:
        async for job in self.kube.list(TetherJob, namespace=NAMESPACE):
            if (job.get("spec") or {}).get("jobName") == "warmup-0":
                return dict(job["spec"])
        raise RuntimeError("the first warm-up job's TetherJob is missing")

    async def burst(self, start: Callable[[str], Awaitable[float]], names: list[str], *, concurrency: int) -> float:
        """Start all ``names``, ``concurrency`` at a time; seconds from the first start to the last pod seen."""
        gate = asyncio.Semaphore(concurrency)

        async def started(name: str) -> float:
            async with gate:
                return await start(name)

        starts = await asyncio.gather(*(started(name) for name in names))
        seen = await asyncio.gather(*(self.watch.wait(name) for name in names))
        return max(seen) - min(starts)

    async def dispatch_share(self, names: set[str]) -> dict[str, float]:
        """Seconds from Queued to Dispatched in each job's timeline (the server's clock), by job name."""
        shares: dict[str, float] = {}
        url: str | None = f"{self.workspace_id}/jobs"
        params: dict[str, str] | None = API
        while url:
            body = (await self.http.get(url, params=params)).json()
            for job in body["value"]:
                if job["name"] not in names:
                    continue
                when = {e["phase"]: e["time"] for e in reversed(job["properties"]["timeline"])}
                if "Queued" in when and "Dispatched" in when:
                    shares[job["name"]] = (_instant(when["Dispatched"]) - _instant(when["Queued"])).total_seconds()
            url, params = body.get("nextLink"), None
        return shares


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Series:
    """Milliseconds per sample (latency) and seconds per burst (throughput), by anchor; CPU per burst."""

    latency_ms: dict[str, list[float]]
    shares_ms: list[float]
    put_ms: list[float]
    burst_s: dict[str, list[float]]
    burst_cpu_s: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    burst_writes: dict[str, list[dict[str, float]]] = field(default_factory=dict)


# What bounds throughput on this machine is CPU: every process of the run shares its cores. The
# processes are told apart by their command line.
_CPU_ROLES = (
    ("kube-apiserver", "API server"),
    ("etcd", "etcd"),
    ("kube-controller-manager", "controller manager"),
    ("kube-scheduler", "scheduler"),
    ("kwok", "kwok"),
    ("tether server", "Tether server"),
    ("agent extension", "ML extension operator"),
    ("bench/dispatch.py", "this benchmark"),
)
# Processes outside the run (other work on this machine, or ones that ended between two readings and
# took their CPU with them) are not counted.


_WRITE_VERBS = {"POST", "PUT", "PATCH", "APPLY", "DELETE"}
_REQUEST_TOTAL = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


async def api_writes(kube: AsyncClient) -> dict[str, float]:
    """The API server's count of write requests so far, by resource (``pods``, ``pods/status``, ``events``...),
    from its own ``apiserver_request_total`` counter."""
    # lightkube has no call for a raw path; its HTTP client (httpx2) carries the cluster's credentials.
    response = await kube._client._client.get("/metrics")
    response.raise_for_status()
    writes: dict[str, float] = {}
    for line in response.text.splitlines():
        found = _REQUEST_TOTAL.match(line)
        if found is None:
            continue
        labels = dict(_LABEL.findall(found["labels"]))
        if labels.get("verb") not in _WRITE_VERBS:
            continue
        resource = labels.get("resource", "?") + (f"/{labels['subresource']}" if labels.get("subresource") else "")
        writes[resource] = writes.get(resource, 0.0) + float(found["value"])
    return writes


def cpu_seconds_by_role() -> dict[str, float]:
    """User + system CPU seconds so far of the run's processes, summed by role."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # the process ended while it was read
        role = next((name for marker, name in _CPU_ROLES if marker in command), None)
        if role is None:
            continue
        # Fields after the command: state is 0, utime 11, stime 12 (proc(5) numbers them 3, 14 and 15).
        totals[role] = totals.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return totals


async def measure(server: ServerProcess, workspace_id: str, kubeconfig: Path, args: argparse.Namespace) -> Series:
    with TetherClient(profile_from_bootstrap(server.data_dir)) as client:
        token = client.access_token()
    verify = ssl.create_default_context(cafile=server.ca_file)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx2.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with (
        httpx2.AsyncClient(base_url=server.url, verify=verify, headers=headers, timeout=60, limits=limits) as http,
        AsyncClient(KubeConfig.from_file(kubeconfig), trust_env=False) as kube,
        AsyncClient(KubeConfig.from_file(kubeconfig), trust_env=False) as watching,
    ):
        watch = PodWatch(watching)
        watcher = asyncio.create_task(watch.run())
        try:
            bench = Bench(http, kube, watch, workspace_id)
            for i in range(args.warmup):
                await bench.one_job(f"warmup-{i}")
            bench.template = watch.pods["warmup-0"]
            bench.job_spec = await bench.warm_up_job_spec()
            await bench.one_pod("floor-warmup")
            await bench.one_batch_job("batch-warmup")
            await bench.one_tether_job("direct-warmup")

            anchors: dict[str, Callable[[str], Awaitable[float]]] = {
                "tether": bench.one_job,
                "batch": bench.one_batch_job,
                "pod": bench.one_pod,
                "direct": bench.one_tether_job,
            }
            latency: dict[str, list[float]] = {name: [] for name in anchors}
            for i in range(args.n):
                for name, one in anchors.items():
                    latency[name].append(await one(f"{name}-{i:04d}") * 1000)
            shares = await bench.dispatch_share({f"tether-{i:04d}" for i in range(args.n)})

            starters: dict[str, Callable[[str], Awaitable[float]]] = {
                "tether": bench.put_job,
                "batch": bench.create_batch_job,
                "pod": bench.create_pod,
            }
            bursts: dict[str, list[float]] = {name: [] for name in starters}
            burst_cpu: dict[str, list[dict[str, float]]] = {name: [] for name in starters}
            burst_writes: dict[str, list[dict[str, float]]] = {name: [] for name in starters}
            for r in range(args.burst_rounds):
                for name, start in starters.items():
                    names = [f"{name}-burst{r}-{i:04d}" for i in range(args.burst)]
                    before, writes_before = cpu_seconds_by_role(), await api_writes(kube)
                    bursts[name].append(await bench.burst(start, names, concurrency=args.concurrency))
                    await asyncio.sleep(2)  # the status writes that follow each pod (theirs, and ours)
                    after, writes_after = cpu_seconds_by_role(), await api_writes(kube)
                    burst_cpu[name].append({role: after[role] - before.get(role, 0.0) for role in after})
                    burst_writes[name].append({r: writes_after[r] - writes_before.get(r, 0.0) for r in writes_after})
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    put_ms = [bench.put_ms[f"tether-{i:04d}"] for i in range(args.n)]
    return Series(latency, [s * 1000 for s in shares.values()], put_ms, bursts, burst_cpu, burst_writes)


def report(series: Series, *, burst: int, concurrency: int, results: Results) -> None:
    ms = series.latency_ms
    p50 = {name: percentile(values, 0.5) for name, values in ms.items()}
    p99 = {name: percentile(values, 0.99) for name, values in ms.items()}
    count = len(ms["tether"])
    print(summary(f"Tether: job PUT -> pod created ({count}, one at a time)", ms["tether"], width=56))
    print(summary("  the PUT's answer (201), client side", series.put_ms, width=56))
    print(summary("  Queued -> Dispatched (server timeline)", series.shares_ms, width=56))
    print(summary("anchor: batch/v1 Job created -> its pod created", ms["batch"], width=56))
    print(summary("floor: the same pod created directly", ms["pod"], width=56))
    print(summary("design bound: TetherJob created directly (no server)", ms["direct"], width=56))
    ratio = p50["tether"] / p50["batch"]
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    print(
        f"Tether / batch Job: p50 {ratio:.2f}x, p99 {p99['tether'] / p99['batch']:.2f}x "
        f"(goal: at most {GOAL_RATIO}x at p50): {verdict}"
    )
    print(
        f"Tether / bare pod (the limit): p50 {p50['tether'] / p50['pod']:.2f}x; batch Job / bare pod "
        f"{p50['batch'] / p50['pod']:.2f}x; the server adds {p50['tether'] - p50['direct']:.1f} ms to the bound"
    )
    rates = {name: [burst / s for s in seconds] for name, seconds in series.burst_s.items()}
    spread = {name: f"{min(v):.1f}-{max(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}" for name, v in rates.items()}
    throughput = [t / b for t, b in zip(rates["tether"], rates["batch"], strict=True)]
    t_ratio = statistics.median(throughput)
    t_verdict = "met" if t_ratio >= GOAL_THROUGHPUT else "MISSED"
    print(
        f"throughput, {burst} at once ({concurrency} in flight): Tether {spread['tether']} jobs/s, "
        f"batch Job {spread['batch']} jobs/s, bare pod {spread['pod']} pods/s"
    )
    print(f"Tether / batch Job throughput: {t_ratio:.2f}x (goal: at least {GOAL_THROUGHPUT}x): {t_verdict}")
    print(per_job_table("CPU per job during the bursts, ms", series.burst_cpu_s, burst=burst, scale=1000))
    print(per_job_table("API-server writes per job during the bursts", series.burst_writes, burst=burst, scale=1))
    cpu_ms = {
        anchor: statistics.median(sum(run.values()) for run in runs) * 1000 / burst
        for anchor, runs in series.burst_cpu_s.items()
    }
    results.add("Tether job PUT -> pod created, p50", p50["tether"], "ms", samples=ms["tether"])
    results.add("batch/v1 Job create -> pod created, p50", p50["batch"], "ms", samples=ms["batch"])
    results.add("bare pod create -> seen, p50", p50["pod"], "ms", samples=ms["pod"])
    results.add("TetherJob created directly -> pod, p50", p50["direct"], "ms", samples=ms["direct"])
    results.add(
        "the server's share: Tether - TetherJob created directly, p50",
        p50["tether"] - p50["direct"],
        "ms",
        note=(
            f"the PUT's answer {percentile(series.put_ms, 0.5):.1f} ms, "
            f"Queued -> Dispatched {percentile(series.shares_ms, 0.5):.1f} ms (p50, server clock)"
        ),
    )
    results.add("dispatch Tether / batch Job, p50", ratio, "x", goal=GOAL_RATIO)
    results.add("dispatch Tether / bare pod (the limit), p50", p50["tether"] / p50["pod"], "x")
    results.add(
        "dispatch throughput Tether / batch Job",
        t_ratio,
        "ratio",
        goal=GOAL_THROUGHPUT,
        better="higher",
        note=f"Tether {spread['tether']} jobs/s, batch Job {spread['batch']} jobs/s, pod {spread['pod']}/s",
    )
    results.add(
        "CPU per job in a burst, all processes, Tether / batch Job",
        cpu_ms["tether"] / cpu_ms["batch"],
        "x",
        note=f"Tether {cpu_ms['tether']:.1f} ms, batch Job {cpu_ms['batch']:.1f} ms, bare pod {cpu_ms['pod']:.1f} ms",
    )


def per_job_table(title: str, per_burst: dict[str, list[dict[str, float]]], *, burst: int, scale: float) -> str:
    """A figure per job (per pod for the bare pod) by process or resource: the median over the bursts."""
    anchors = list(per_burst)
    rows = sorted({row for runs in per_burst.values() for run in runs for row in run})
    per_job = {
        anchor: {row: statistics.median(run.get(row, 0.0) for run in runs) * scale / burst for row in rows}
        for anchor, runs in per_burst.items()
    }
    rows = [r for r in rows if any(per_job[a][r] >= 0.005 for a in anchors)]
    lines = [f"{title} (median over the rounds):", f"  {'':<24}" + "".join(f"{a:>12}" for a in anchors)]
    for row in sorted(rows, key=lambda r: -per_job[anchors[0]][r]):
        lines.append(f"  {row:<24}" + "".join(f"{per_job[a][row]:>12.2f}" for a in anchors))
    lines.append(f"  {'all':<24}" + "".join(f"{sum(per_job[a][r] for r in rows):>12.2f}" for a in anchors))
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="jobs timed one at a time (and as many of each anchor)")
    parser.add_argument("--burst", type=int, default=200, help="jobs (and anchors) submitted at once")
    parser.add_argument("--burst-rounds", type=int, default=1, help="bursts per anchor, interleaved")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight during the burst")
    parser.add_argument("--warmup", type=int, default=3, help="untimed jobs first")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="use this cluster instead of starting one")
    add_json_out(parser)
    args = parser.parse_args()

    started = time.perf_counter()
    async with local_or_given_cluster(args.kubeconfig, name="dispatch-bench", cpu_nodes=3, gpu_nodes=0) as kubeconfig:
        with (
            tempfile.TemporaryDirectory(prefix="tether-dispatch-bench-") as tmp,
            tether_with_compute(Path(tmp), kubeconfig) as (server, workspace_id),
        ):
            await prepare_cluster(kubeconfig)
            await asyncio.to_thread(wait_instance_type_reported, server, INSTANCE_TYPE)
            setup_s = time.perf_counter() - started
            print(f"set up in {setup_s:.1f} s; {args.n} jobs (+{args.warmup} warm-up), burst {args.burst}")
            series = await measure(server, workspace_id, kubeconfig, args)
    results = Results("dispatch", args.json_out)
    report(series, burst=args.burst, concurrency=args.concurrency, results=results)
    results.save()
    print(f"run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
