"""Job dispatch on the real node: a Tether job's PUT → its container started, against a batch/v1 Job → its container.

One run sets up a local cluster with its real node (kubelet + containerd; needs root, one per host),
a real ``tether server`` process, a managed cluster with the ML extension (operator as a local
process), a workspace, an InstanceType that selects the real node and a compute on namespace
``bench-real``. A pod watch records when each pod's container is first seen running. Then ``-n``
rounds, one at a time: a Tether job (``sleep 1`` in the locally built base image) timed from just
before its PUT until its container runs, and a ``batch/v1`` Job with the same image, command,
resources, node selector and toleration created directly, timed the same way. Prints p50/p99 of both
and their ratio (goal: at most 1.3x).

    .venv/bin/python bench/dispatch_real.py [-n 10] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.codecs import from_dict
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod

from _common import Results, add_json_out, percentile, summary
from dispatch import tether_with_compute, wait_instance_type_reported
from tether.client import TetherClient
from tether.client.profile import profile_from_bootstrap
from tether.kube.resources import InstanceType
from tether.localcluster import LocalClusterSpec, kubeversions, start_cluster, stop_cluster
from tether.localcluster.nodeconfig import POD_NETWORK_HOST, POD_NETWORK_LABEL
from tether.server_process import ServerProcess

API = {"api-version": "2024-10-01"}
NAMESPACE = "bench-jobs"  # tether_with_compute's compute namespace
INSTANCE_TYPE = "bench-real"
GOAL_RATIO = 1.3
RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "1", "memory": "64Mi"}}
TOLERATION = {"key": POD_NETWORK_LABEL, "operator": "Equal", "value": POD_NETWORK_HOST, "effect": "NoSchedule"}


class RunningWatch:
    """When each pod's first container is first seen running, keyed by the pod's job (Tether or batch)."""

    def __init__(self, kube: AsyncClient) -> None:
        self._kube = kube
        self.running: dict[str, float] = {}
        self._changed = asyncio.Condition()

    async def run(self) -> None:
        async for _, pod in self._kube.watch(Pod, namespace=NAMESPACE):
            now = time.perf_counter()
            meta, status = pod.metadata, pod.status
            if meta is None or status is None or not status.containerStatuses:
                continue
            state = status.containerStatuses[0].state
            if state is None or (state.running is None and state.terminated is None):
                continue
            labels, annotations = meta.labels or {}, meta.annotations or {}
            key = annotations.get("tether.dev/job-name") or labels.get("job-name") or str(meta.name)
            if key not in self.running:
                self.running[key] = now
                async with self._changed:
                    self._changed.notify_all()

    async def wait(self, key: str, *, timeout: float = 120) -> float:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: key in self.running), timeout)
        return self.running[key]


def batch_job(name: str, image: str) -> Any:
    return from_dict(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 60,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "hostNetwork": True,
                        "nodeSelector": {POD_NETWORK_LABEL: POD_NETWORK_HOST},
                        "tolerations": [TOLERATION],
                        "containers": [
                            {
                                "name": "main",
                                "image": image,
                                "command": ["/bin/sh", "-c", "sleep 1"],
                                "resources": RESOURCES,
                            }
                        ],
                    }
                },
            },
        }
    )


async def measure(
    kubeconfig: Path,
    workspace_id: str,
    http: httpx2.AsyncClient,
    *,
    server: ServerProcess,
    image: str,
    rounds: int,
    results: Results,
) -> None:
    async with AsyncClient(KubeConfig.from_file(kubeconfig), trust_env=False) as kube:
        spec = {"nodeSelector": {POD_NETWORK_LABEL: POD_NETWORK_HOST}, "resources": RESOURCES}
        await kube.create(InstanceType(metadata=ObjectMeta(name=INSTANCE_TYPE), spec=spec))
        await asyncio.to_thread(wait_instance_type_reported, server, INSTANCE_TYPE)
        watch = RunningWatch(kube)
        watcher = asyncio.create_task(watch.run())
        body = {
            "properties": {
                "jobType": "Command",
                "command": "sleep 1",
                "environment": {"image": image},
                "computeId": "azureml:bench-compute",
                "resources": {"instanceType": INSTANCE_TYPE, "instanceCount": 1},
            }
        }
        tether_ms: list[float] = []
        floor_ms: list[float] = []
        try:
            for i in range(rounds + 1):  # round 0 warms up (image, caches) and is not counted
                started = time.perf_counter()
                response = await http.put(f"{workspace_id}/jobs/real-{i}", params=API, json=body)
                response.raise_for_status()
                tether = (await watch.wait(f"real-{i}") - started) * 1000
                started = time.perf_counter()
                await kube.create(batch_job(f"floor-{i}", image))
                floor = (await watch.wait(f"floor-{i}") - started) * 1000
                if i:
                    tether_ms.append(tether)
                    floor_ms.append(floor)
        finally:
            watcher.cancel()
    print(summary("tether ml job → container running", tether_ms))
    print(summary("batch/v1 Job → container running", floor_ms))
    tether_p50, batch_p50 = percentile(tether_ms, 0.5), percentile(floor_ms, 0.5)
    ratio = tether_p50 / batch_p50
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    print(f"Tether / batch Job, container running: p50 {ratio:.2f}x (goal: at most {GOAL_RATIO}x): {verdict}")
    results.add("Tether job PUT -> container running (real node), p50", tether_p50, "ms", samples=tether_ms)
    results.add("batch/v1 Job create -> container running (real node), p50", batch_p50, "ms", samples=floor_ms)
    results.add("dispatch to a running container, Tether / batch Job, p50", ratio, "x", goal=GOAL_RATIO)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="jobs timed (and as many batch Jobs), after one warm-up")
    add_json_out(parser)
    args = parser.parse_args()
    results = Results("dispatch_real", args.json_out)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    images_dir = kubeversions.default_images_dir(cache)
    image = kubeversions.image_references(images_dir)[0]
    with tempfile.TemporaryDirectory(prefix="tether-bench-real-") as tmp:
        state = Path(tmp) / "cluster"
        spec = LocalClusterSpec(
            state_dir=state,
            bin_dir=kubeversions.default_bin_dir(cache),
            name="bench-real",
            cpu_nodes=1,
            gpu_nodes=0,
            real_nodes=1,
            node_bin_dir=kubeversions.default_node_bin_dir(cache),
            images_dir=images_dir,
        )
        started = time.perf_counter()
        cluster = await start_cluster(spec)
        print(f"local cluster with its real node ready in {time.perf_counter() - started:.1f} s")
        try:
            async with AsyncClient(KubeConfig.from_file(cluster.kubeconfig_path), trust_env=False) as kube:
                await kube.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
            with tether_with_compute(Path(tmp), cluster.kubeconfig_path) as (server, workspace_id):
                with TetherClient(profile_from_bootstrap(server.data_dir)) as client:
                    token = client.access_token()
                verify = ssl.create_default_context(cafile=server.ca_file)
                headers = {"Authorization": f"Bearer {token}"}
                async with httpx2.AsyncClient(base_url=server.url, verify=verify, headers=headers, timeout=60) as http:
                    await measure(
                        cluster.kubeconfig_path,
                        workspace_id,
                        http,
                        server=server,
                        image=image,
                        rounds=args.n,
                        results=results,
                    )
        finally:
            await asyncio.to_thread(stop_cluster, state)
    results.save()


if __name__ == "__main__":
    asyncio.run(main())
