"""What the demo does in its clusters directly, as kubectl would, and not through Tether.

Each call opens its own lightkube client on the cluster's kubeconfig and closes it: the demo runs them
one at a time with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod

from tether.cli.demo.narrator import DemoStepFailed
from tether.server_process import ServerProcess
from tether.testing.workload import get_token_in_workload, pod_identity, projected_token


def _client(kubeconfig: Path) -> AsyncClient:
    return AsyncClient(KubeConfig.from_file(kubeconfig).get(), trust_env=False)


async def create_namespace(kubeconfig: Path, name: str) -> None:
    client = _client(kubeconfig)
    try:
        await client.create(Namespace(metadata=ObjectMeta(name=name)))
    finally:
        await client.close()


async def first_pod(kubeconfig: Path, namespace: str, job: str) -> str:
    """The name of a pod of Tether job ``job`` (its cluster name) in ``namespace``."""
    client = _client(kubeconfig)
    try:
        pods = [p async for p in client.list(Pod, namespace=namespace, labels={"tether.dev/job": job})]
    finally:
        await client.close()
    if not pods or pods[0].metadata is None or not pods[0].metadata.name:
        raise DemoStepFailed(f"no pod found for job {namespace}/{job}")
    return pods[0].metadata.name


async def workload_token(kubeconfig: Path, namespace: str, pod: str, *, server: ServerProcess) -> str:
    """The token the unmodified azure-identity obtains inside ``pod`` with the pod's identity."""
    client = _client(kubeconfig)
    try:
        identity = await pod_identity(client, namespace=namespace, pod_name=pod)
        token = await projected_token(client, identity)
    finally:
        await client.close()
    return await asyncio.to_thread(
        get_token_in_workload, identity, token, scope=f"{server.url}/.default", ca_file=server.ca_file
    )
