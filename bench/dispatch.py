"""Job dispatch: from a job's PUT to its pod created in the cluster, against the floor of creating that pod directly.

One run sets up, through the CLI as a user would: a local cluster (started here with 3 CPU nodes, or
``--kubeconfig``), a real ``tether server`` process, a managed cluster (``aks create``) with the ML
extension (``k8s-extension create --operator-process``: the operator runs here as a local process), a
workspace, a tiny InstanceType and a compute with a system-assigned identity on namespace
``bench-jobs`` (so every dispatch also federates the identity, as real jobs do). One pod watch on
that namespace, opened before anything is timed, records when each pod is first seen. Then:

* Latency, ``-n`` jobs one at a time, each followed by the floor: the same pod (the spec the operator
  rendered for the first warm-up job, under a new name and without the job's label) created directly
  with the Kubernetes client. Each is timed from just before the PUT (or the pod create) until the
  watch yields the pod. Prints p50/p99 of both and their ratio (goal: at most 2x), and the part the
  server's timeline attributes to the dispatcher (Queued -> Dispatched). Beside them, the bound of the
  design without Tether's server: the first warm-up job's TetherJob created directly (new name, no
  ``managed-by`` label, so the server ignores it) until the watch yields the pod the operator made,
  two API-server writes in a row where the floor has one.
* Throughput, ``--burst`` jobs submitted at once (``--concurrency`` requests in flight): jobs
  dispatched per second, first PUT to last pod seen; and the same for the floor's pods.

    .venv/bin/python bench/dispatch.py [-n 200] [--burst 200] [--concurrency 16] [--warmup 3] [--kubeconfig FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
from lightkube import AsyncClient, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod

from _common import Cli, local_or_given_cluster, percentile, summary
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
GOAL_RATIO = 2.0


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
            key = (meta.annotations or {}).get(JOB_NAME_ANNOTATION) if JOB_LABEL in (meta.labels or {}) else None
            key = key or meta.name
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


@dataclass
class Bench:
    http: httpx.AsyncClient
    kube: AsyncClient
    watch: PodWatch
    workspace_id: str
    template: Pod | None = None
    job_spec: dict[str, Any] | None = None

    async def put_job(self, name: str) -> float:
        started = time.perf_counter()
        response = await self.http.put(f"{self.workspace_id}/jobs/{name}", params=API, json=job_body())
        if response.status_code not in (200, 201):
            raise RuntimeError(f"PUT job {name} answered {response.status_code}: {response.text[:300]}")
        return started

    async def create_pod(self, name: str) -> float:
        assert self.template is not None
        pod = floor_pod(self.template, name)
        started = time.perf_counter()
        await self.kube.create(pod)
        return started

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


async def measure(server: ServerProcess, workspace_id: str, kubeconfig: Path, args: argparse.Namespace) -> None:
    with TetherClient(profile_from_bootstrap(server.data_dir)) as client:
        token = client.access_token()
    verify = ssl.create_default_context(cafile=server.ca_file)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with (
        httpx.AsyncClient(base_url=server.url, verify=verify, headers=headers, timeout=60, limits=limits) as http,
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
            await bench.one_tether_job("direct-warmup")

            jobs: dict[str, float] = {}
            pods: list[float] = []
            direct: list[float] = []
            for i in range(args.n):
                jobs[f"job-{i:04d}"] = await bench.one_job(f"job-{i:04d}")
                pods.append(await bench.one_pod(f"floor-{i:04d}"))
                direct.append(await bench.one_tether_job(f"direct-{i:04d}"))
            shares = await bench.dispatch_share(set(jobs))

            job_names = [f"burst-{i:04d}" for i in range(args.burst)]
            jobs_s = await bench.burst(bench.put_job, job_names, concurrency=args.concurrency)
            pod_names = [f"floor-burst-{i:04d}" for i in range(args.burst)]
            pods_s = await bench.burst(bench.create_pod, pod_names, concurrency=args.concurrency)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    report(
        [s * 1000 for s in jobs.values()],
        [s * 1000 for s in pods],
        [shares[name] * 1000 for name in jobs if name in shares],
        [(jobs[name] - shares[name]) * 1000 for name in jobs if name in shares],
        [s * 1000 for s in direct],
        burst=args.burst,
        concurrency=args.concurrency,
        jobs_s=jobs_s,
        pods_s=pods_s,
    )


def report(
    jobs_ms: list[float],
    pods_ms: list[float],
    shares_ms: list[float],
    rest_ms: list[float],
    direct_ms: list[float],
    *,
    burst: int,
    concurrency: int,
    jobs_s: float,
    pods_s: float,
) -> None:
    print(summary(f"job create -> pod created ({len(jobs_ms)} jobs, one at a time)", jobs_ms))
    print(summary("  of which Queued -> Dispatched (server timeline)", shares_ms, width=50))
    print(summary("  the rest: PUT answer, TetherJob -> operator -> pod", rest_ms, width=50))
    print(summary(f"floor: the same pod created directly ({len(pods_ms)})", pods_ms))
    p50, p99 = percentile(jobs_ms, 0.5), percentile(jobs_ms, 0.99)
    floor50, floor99 = percentile(pods_ms, 0.5), percentile(pods_ms, 0.99)
    verdict = "met" if p50 <= GOAL_RATIO * floor50 else "MISSED"
    print(
        f"ratio job/floor: p50 {p50 / floor50:.1f}x, p99 {p99 / floor99:.1f}x "
        f"(goal: at most {GOAL_RATIO:.0f}x at p50): {verdict}"
    )
    direct50 = percentile(direct_ms, 0.5)
    print(summary(f"design bound: TetherJob created directly ({len(direct_ms)})", direct_ms))
    print(
        f"  = {direct50 / floor50:.1f}x the floor with no Tether server in the path; "
        f"the server adds {p50 - direct50:.1f} ms at p50"
    )
    print(
        f"throughput, {burst} at once ({concurrency} in flight): {burst / jobs_s:.1f} jobs dispatched/s "
        f"({jobs_s:.1f} s to the last pod); floor {burst / pods_s:.1f} pods/s ({pods_s:.1f} s)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="jobs timed one at a time (and as many floor pods)")
    parser.add_argument("--burst", type=int, default=200, help="jobs (and floor pods) submitted at once")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight during the burst")
    parser.add_argument("--warmup", type=int, default=3, help="untimed jobs first")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="use this cluster instead of starting one")
    args = parser.parse_args()

    started = time.perf_counter()
    async with local_or_given_cluster(args.kubeconfig, name="dispatch-bench", cpu_nodes=3, gpu_nodes=0) as kubeconfig:
        with (
            tempfile.TemporaryDirectory(prefix="tether-dispatch-bench-") as tmp,
            tether_with_compute(Path(tmp), kubeconfig) as (server, workspace_id),
        ):
            await prepare_cluster(kubeconfig)
            setup_s = time.perf_counter() - started
            print(f"set up in {setup_s:.1f} s; {args.n} jobs (+{args.warmup} warm-up), burst {args.burst}")
            await measure(server, workspace_id, kubeconfig, args)
    print(f"run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
