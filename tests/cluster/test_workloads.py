"""Pods on the local cluster's simulated (kwok) nodes: scheduling, lifecycle, logs, GPU placement.

Pod annotations (see docs/local-cluster.md): ``tether.dev/simulate-log`` (what the containers print),
``tether.dev/simulate-exit`` (exit code; non-zero -> Failed), ``tether.dev/simulate-duration``.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from lightkube import AsyncClient
from lightkube.models.batch_v1 import JobSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec, ResourceRequirements
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Node, Pod

from tether.localcluster import (
    GPU_RESOURCE,
    NODE_POOL_LABEL,
    SIMULATE_DURATION_ANNOTATION,
    SIMULATE_EXIT_ANNOTATION,
    SIMULATE_LOG_ANNOTATION,
)

pytestmark = pytest.mark.cluster

TERMINAL = ("Succeeded", "Failed")


async def _wait_for_pod(
    client: AsyncClient, name: str, *, namespace: str, phases: tuple[str, ...], timeout: float = 30.0
) -> Pod:
    deadline = time.monotonic() + timeout
    while True:
        pod = await client.get(Pod, name, namespace=namespace)
        if pod.status is not None and pod.status.phase in phases:
            return pod
        if time.monotonic() > deadline:
            phase = pod.status.phase if pod.status else None
            pytest.fail(f"pod {namespace}/{name} is {phase}, not {phases}, after {timeout} s")
        await asyncio.sleep(0.1)


def _pod(
    name: str, namespace: str, *, annotations: dict[str, str], resources: ResourceRequirements | None = None
) -> Pod:
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace, annotations=annotations),
        spec=PodSpec(
            restartPolicy="Never",
            containers=[Container(name="main", image="python:3.11", resources=resources)],
        ),
    )


async def _pool_of(client: AsyncClient, node_name: str) -> str:
    node = await client.get(Node, node_name)
    assert node.metadata is not None
    assert node.metadata.labels is not None
    return str(node.metadata.labels[NODE_POOL_LABEL])


async def _log(client: AsyncClient, name: str, *, namespace: str) -> str:
    return "".join([line async for line in client.log(name, namespace=namespace)])


async def test_job_pod_runs_on_a_simulated_node_succeeds_and_has_a_log(
    kube_client: AsyncClient, namespace: str
) -> None:
    template = PodTemplateSpec(
        metadata=ObjectMeta(
            annotations={
                SIMULATE_LOG_ANNOTATION: "epoch 1 loss 0.5\nepoch 2 loss 0.25",
                SIMULATE_DURATION_ANNOTATION: "1s",
            }
        ),
        spec=PodSpec(restartPolicy="Never", containers=[Container(name="train", image="python:3.11")]),
    )
    job = Job(metadata=ObjectMeta(name="train", namespace=namespace), spec=JobSpec(backoffLimit=0, template=template))
    await kube_client.create(job)

    async with asyncio.timeout(60):
        await kube_client.wait(
            Job, "train", namespace=namespace, for_conditions=["Complete"], raise_for_conditions=["Failed"]
        )

    pods = [p async for p in kube_client.list(Pod, namespace=namespace, labels={"job-name": "train"})]
    assert len(pods) == 1
    pod = pods[0]
    assert pod.metadata is not None
    assert pod.metadata.name is not None
    assert pod.spec is not None
    assert pod.spec.nodeName is not None
    assert await _pool_of(kube_client, pod.spec.nodeName) == "cpu"
    assert pod.status is not None
    assert pod.status.phase == "Succeeded"
    assert await _log(kube_client, pod.metadata.name, namespace=namespace) == "epoch 1 loss 0.5\nepoch 2 loss 0.25\n"


async def test_pod_passes_through_running_and_fails_with_the_chosen_exit_code(
    kube_client: AsyncClient, namespace: str
) -> None:
    annotations = {
        SIMULATE_EXIT_ANNOTATION: "3",
        SIMULATE_DURATION_ANNOTATION: "2s",
        SIMULATE_LOG_ANNOTATION: "Traceback (most recent call last):\nValueError: boom",
    }
    await kube_client.create(_pod("crash", namespace, annotations=annotations))

    running = await _wait_for_pod(kube_client, "crash", namespace=namespace, phases=("Running", *TERMINAL))
    assert running.status is not None
    assert running.status.phase == "Running"
    failed = await _wait_for_pod(kube_client, "crash", namespace=namespace, phases=TERMINAL)

    assert failed.status is not None
    assert failed.status.phase == "Failed"
    assert failed.status.containerStatuses is not None
    terminated = failed.status.containerStatuses[0].state
    assert terminated is not None
    assert terminated.terminated is not None
    assert terminated.terminated.exitCode == 3
    assert (await _log(kube_client, "crash", namespace=namespace)).endswith("ValueError: boom\n")


async def test_pod_without_log_annotation_has_an_empty_log(kube_client: AsyncClient, namespace: str) -> None:
    await kube_client.create(_pod("quiet", namespace, annotations={SIMULATE_DURATION_ANNOTATION: "100ms"}))
    await _wait_for_pod(kube_client, "quiet", namespace=namespace, phases=("Succeeded",))
    assert await _log(kube_client, "quiet", namespace=namespace) == ""


async def test_gpu_request_lands_only_on_a_gpu_node(kube_client: AsyncClient, namespace: str) -> None:
    gpu = ResourceRequirements(limits={GPU_RESOURCE: "1"}, requests={GPU_RESOURCE: "1"})
    await kube_client.create(
        _pod("gpu-job", namespace, annotations={SIMULATE_DURATION_ANNOTATION: "30s"}, resources=gpu)
    )
    for i in range(4):
        await kube_client.create(_pod(f"cpu-job-{i}", namespace, annotations={SIMULATE_DURATION_ANNOTATION: "30s"}))

    gpu_pod = await _wait_for_pod(kube_client, "gpu-job", namespace=namespace, phases=("Running",))
    assert gpu_pod.spec is not None
    assert gpu_pod.spec.nodeName is not None
    assert await _pool_of(kube_client, gpu_pod.spec.nodeName) == "gpu"
    for i in range(4):
        cpu_pod = await _wait_for_pod(kube_client, f"cpu-job-{i}", namespace=namespace, phases=("Running",))
        assert cpu_pod.spec is not None
        assert cpu_pod.spec.nodeName is not None
        assert await _pool_of(kube_client, cpu_pod.spec.nodeName) == "cpu"


async def test_gpu_request_beyond_capacity_stays_pending(kube_client: AsyncClient, namespace: str) -> None:
    too_many = ResourceRequirements(limits={GPU_RESOURCE: "8"}, requests={GPU_RESOURCE: "8"})
    await kube_client.create(_pod("greedy", namespace, annotations={}, resources=too_many))
    await asyncio.sleep(2)
    pod = await kube_client.get(Pod, "greedy", namespace=namespace)
    assert pod.status is not None
    assert pod.status.phase == "Pending"
    conditions = pod.status.conditions or []
    assert any(c.type == "PodScheduled" and c.status == "False" for c in conditions)
