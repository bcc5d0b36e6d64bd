"""The real node's ``down`` leaves nothing behind, and the next ``up`` reuses its state.

Stops the session cluster's real node (what ``tether local-cluster down`` does for it) while a
container runs on it, checks that no process, mount, network namespace or ``/kubepods`` cgroup of it
remains, then starts it again and runs a pod. The session's other modules see a Ready real node
before and after.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.resources.core_v1 import Node, Pod

from tether.localcluster import LocalCluster, kubeversions
from tether.localcluster.nodeconfig import POD_NETWORK_HOST, POD_NETWORK_LABEL, REAL_NODE_NAME
from tether.localcluster.realnode import mounts_under, node_paths, real_node_alive, start_real_node, stop_real_node

pytestmark = pytest.mark.cluster

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _pod(name: str, namespace: str, image: str) -> Pod:
    return Pod.from_dict(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "hostNetwork": True,
                "restartPolicy": "Never",
                "nodeSelector": {POD_NETWORK_LABEL: POD_NETWORK_HOST},
                "tolerations": [
                    {"key": POD_NETWORK_LABEL, "operator": "Equal", "value": POD_NETWORK_HOST, "effect": "NoSchedule"}
                ],
                "containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}],
            },
        }
    )


async def _wait_running(client: AsyncClient, name: str, namespace: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        pod = await client.get(Pod, name, namespace=namespace)
        if pod.status is not None and pod.status.phase == "Running":
            return
        assert time.monotonic() < deadline, pod.status
        await asyncio.sleep(0.3)


def _processes_mentioning(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _kubepods_cgroups() -> list[Path]:
    return [p for p in Path("/sys/fs/cgroup").glob("*/kubepods") if p.is_dir()]


async def test_down_leaves_nothing_behind_and_up_again_reuses_the_node(
    local_cluster: LocalCluster, kube_client: AsyncClient, namespace: str
) -> None:
    assert local_cluster.real_nodes == 1
    images_dir = kubeversions.default_images_dir(CACHE)
    bin_dir = kubeversions.default_node_bin_dir(CACHE)
    base = kubeversions.image_references(images_dir)[0]
    await kube_client.create(_pod("before", namespace, base))
    await _wait_running(kube_client, "before", namespace)
    node = node_paths(local_cluster.paths)
    assert mounts_under(node.root), "a running container has mounts under the node directory"

    await asyncio.to_thread(stop_real_node, local_cluster.paths, bin_dir=bin_dir)

    assert not real_node_alive(local_cluster.paths)
    assert _processes_mentioning(str(node.root)) == []
    assert mounts_under(node.root) == []
    assert _kubepods_cgroups() == []
    netns = node.containerd_state / "netns"
    assert not netns.exists() or list(netns.iterdir()) == []

    await start_real_node(
        local_cluster.paths,
        kube_client,
        bin_dir=bin_dir,
        images_dir=images_dir,
        server=local_cluster.server_url,
        deadline=time.monotonic() + 120,
    )
    found = await kube_client.get(Node, REAL_NODE_NAME)
    assert found.metadata is not None
    assert (found.metadata.labels or {}).get(POD_NETWORK_LABEL) == POD_NETWORK_HOST
    await kube_client.create(_pod("after", namespace, base))
    await _wait_running(kube_client, "after", namespace)
