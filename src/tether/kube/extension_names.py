"""Names the ML extension's objects share: its object names, API groups, kinds, plurals and labels (pure).

The installer (``extension_manifests``, ``extension_crds``, ``extension_rbac``), the operator and the
readers all find the installation's objects by these names; docs/ml-extension.md is the contract.
``tether.kube.extension_manifests`` re-exports every name here, which is how most code reads them.

Hazards: changing a value renames an object in every installed cluster (``deploy/ml-extension.yaml``
is generated from them); names of cluster-scoped objects are fixed, so one cluster holds one installation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether import __version__

DEFAULT_NAMESPACE = "azureml"
EXTENSION_NAME = "tether-extension"
SERVICE_ACCOUNT_NAME = EXTENSION_NAME
DEPLOYMENT_NAME = EXTENSION_NAME
HEARTBEAT_LEASE_NAME = EXTENSION_NAME
CONFIG_MAP_NAME = "tether-extension-config"
STATUS_CONFIG_MAP_NAME = "tether-extension-status"
CLUSTER_ROLE_NAME = EXTENSION_NAME
WORKLOADS_CLUSTER_ROLE_NAME = "tether-extension-workloads"
NVIDIA_DEVICE_PLUGIN_NAME = "nvidia-device-plugin"
NVIDIA_DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"
DEFAULT_OPERATOR_IMAGE = f"tether:{__version__}"

INSTANCE_TYPE_GROUP = "amlarc.azureml.com"
INSTANCE_TYPE_VERSION = "v1alpha1"
INSTANCE_TYPE_KIND = "InstanceType"
INSTANCE_TYPE_PLURAL = "instancetypes"
INSTANCE_TYPES_CRD_NAME = f"{INSTANCE_TYPE_PLURAL}.{INSTANCE_TYPE_GROUP}"

JOB_GROUP = "tether.dev"
JOB_VERSION = "v1"
JOB_KIND = "TetherJob"
JOB_PLURAL = "tetherjobs"
TETHER_JOBS_CRD_NAME = f"{JOB_PLURAL}.{JOB_GROUP}"
CRD_NAMES = (INSTANCE_TYPES_CRD_NAME, TETHER_JOBS_CRD_NAME)

GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_INSTANCE_TYPE_NAME = "defaultinstancetype"

LABELS: Mapping[str, str] = {
    "app.kubernetes.io/name": EXTENSION_NAME,
    "app.kubernetes.io/part-of": "tether",
    "app.kubernetes.io/managed-by": "tether",
}
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


def object_meta(name: str, *, namespace: str | None = None) -> dict[str, Any]:
    """``metadata`` for one of the installation's objects, with the installation's labels."""
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta
