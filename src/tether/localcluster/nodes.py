"""The simulated nodes: their names, shapes, labels and taints (pure manifests, no I/O).

CPU nodes look like an Azure ``Standard_D8s_v5``; GPU nodes like a ``Standard_NC24ads_A100_v4`` with
``nvidia.com/gpu`` capacity, the labels the NVIDIA GPU operator and AKS put on such nodes, and the taint
``nvidia.com/gpu:NoSchedule``. The API server runs the ExtendedResourceToleration admission plugin, so a
pod that requests ``nvidia.com/gpu`` tolerates that taint automatically and every other pod stays off
GPU nodes, as on a well-run GPU pool. Select a pool with the label ``tether.dev/node-pool`` (cpu|gpu).
"""

from __future__ import annotations

from dataclasses import dataclass

from lightkube.models.core_v1 import NodeSpec, NodeStatus, Taint
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node

from tether.localcluster.components import KWOK_NODE_ANNOTATION, KWOK_NODE_ANNOTATION_VALUE

NODE_POOL_LABEL = "tether.dev/node-pool"
#: Marks the nodes that ``up`` created, so a later ``up`` with other counts can prune the extra ones.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "tether-local-cluster"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class NodeShape:
    """Capacity and labels of one kind of simulated node."""

    pool: str
    instance_type: str
    cpu: str
    memory: str
    gpus: int = 0
    pods: str = "110"


CPU_SHAPE = NodeShape(pool="cpu", instance_type="Standard_D8s_v5", cpu="8", memory="32Gi")
GPU_SHAPE = NodeShape(pool="gpu", instance_type="Standard_NC24ads_A100_v4", cpu="24", memory="220Gi", gpus=1)


def node_name(shape: NodeShape, index: int) -> str:
    return f"kwok-{shape.pool}-{index}"


def node_manifest(shape: NodeShape, index: int) -> Node:
    """A Node object kwok will manage (annotation), created with its capacity already in status."""
    name = node_name(shape, index)
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": shape.instance_type,
        "type": "kwok",
        NODE_POOL_LABEL: shape.pool,
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
    }
    capacity = {"cpu": shape.cpu, "memory": shape.memory, "pods": shape.pods}
    taints: list[Taint] = []
    if shape.gpus:
        labels["kubernetes.azure.com/accelerator"] = "nvidia"
        labels["nvidia.com/gpu.present"] = "true"
        labels["nvidia.com/gpu.count"] = str(shape.gpus)
        capacity[GPU_RESOURCE] = str(shape.gpus)
        taints.append(Taint(key=GPU_RESOURCE, value="present", effect="NoSchedule"))
    return Node(
        metadata=ObjectMeta(
            name=name,
            labels=labels,
            annotations={KWOK_NODE_ANNOTATION: KWOK_NODE_ANNOTATION_VALUE},
        ),
        spec=NodeSpec(taints=taints or None),
        status=NodeStatus(capacity=capacity, allocatable=dict(capacity)),
    )


def desired_nodes(*, cpu_nodes: int, gpu_nodes: int) -> list[Node]:
    """The nodes a cluster with these counts has, CPU nodes first."""
    return [node_manifest(CPU_SHAPE, i) for i in range(cpu_nodes)] + [
        node_manifest(GPU_SHAPE, i) for i in range(gpu_nodes)
    ]
