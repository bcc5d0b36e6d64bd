"""A real local Kubernetes cluster for tests and the demo: etcd, kube-apiserver, controller-manager,
scheduler and kwok (simulated nodes and pod lifecycle), all on loopback ports.

Public surface: :class:`LocalClusterSpec` (settings, passed in by the entry point), :func:`start_cluster`,
:func:`stop_cluster`, :func:`get_cluster_status`, :func:`load_cluster`, :class:`LocalCluster` (URL, CA,
kubeconfig and a lightkube client factory) and the errors. Binaries come from ``tools/kube/build.sh``
(``make kube``); see docs/local-cluster.md for the pod annotations that drive simulated pods.
"""

from tether.localcluster.cluster import (
    ClusterStatus,
    ComponentStatus,
    LocalCluster,
    LocalClusterSpec,
    get_cluster_status,
    load_cluster,
    locate_binaries,
    start_cluster,
    stop_cluster,
)
from tether.localcluster.errors import (
    BinariesMissing,
    ClusterNotFound,
    ClusterNotReady,
    ComponentFailed,
)
from tether.localcluster.nodes import GPU_RESOURCE, NODE_POOL_LABEL
from tether.localcluster.paths import DEFAULT_CLUSTER_NAME, default_state_dir
from tether.localcluster.podlogs import SIMULATE_LOG_ANNOTATION

#: Pod annotations understood by the local cluster's kwok stages (see pod-stages.yaml).
SIMULATE_EXIT_ANNOTATION = "tether.dev/simulate-exit"
SIMULATE_DURATION_ANNOTATION = "tether.dev/simulate-duration"

__all__ = [
    "DEFAULT_CLUSTER_NAME",
    "GPU_RESOURCE",
    "NODE_POOL_LABEL",
    "SIMULATE_DURATION_ANNOTATION",
    "SIMULATE_EXIT_ANNOTATION",
    "SIMULATE_LOG_ANNOTATION",
    "BinariesMissing",
    "ClusterNotFound",
    "ClusterNotReady",
    "ClusterStatus",
    "ComponentFailed",
    "ComponentStatus",
    "LocalCluster",
    "LocalClusterSpec",
    "default_state_dir",
    "get_cluster_status",
    "load_cluster",
    "locate_binaries",
    "start_cluster",
    "stop_cluster",
]
