"""What the demo does in its clusters directly, as kubectl would, and not through Tether.

Each call opens its own lightkube client on the cluster's kubeconfig and closes it: the demo runs them
one at a time with ``asyncio.run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tether.kube.resources import InstanceType


def _client(kubeconfig: Path) -> AsyncClient:
    return AsyncClient(KubeConfig.from_file(kubeconfig).get(), trust_env=False)


async def create_namespace(kubeconfig: Path, name: str) -> None:
    client = _client(kubeconfig)
    try:
        await client.create(Namespace(metadata=ObjectMeta(name=name)))
    finally:
        await client.close()


async def create_instance_type(kubeconfig: Path, name: str, spec: dict[str, Any]) -> None:
    """An InstanceType (the ML extension's CRD) as ``kubectl apply`` would create it."""
    client = _client(kubeconfig)
    try:
        await client.create(InstanceType(metadata=ObjectMeta(name=name), spec=spec))
    finally:
        await client.close()
