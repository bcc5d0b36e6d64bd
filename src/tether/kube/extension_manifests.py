"""What the ML extension installs into a cluster, rendered as plain Kubernetes objects (pure: no I/O).

``render(config)`` returns, in apply order: the release namespace, the two CRDs (``InstanceType``,
``TetherJob``; built by ``tether.kube.extension_crds``), the operator's ServiceAccount, its RBAC
(``tether.kube.extension_rbac``), the settings ConfigMap and — only when the operator runs in the
cluster — its Deployment (plus the NVIDIA device plugin DaemonSet when asked for). This module also
holds ``ExtensionConfig``: ``ExtensionConfig.from_configuration_settings`` turns an ARM extension's
``configurationSettings`` into a config, refusing what Azure refuses. It re-exports the names shared by
the installer, the operator and the readers, which live in ``tether.kube.extension_names``.

Hazards: names of cluster-scoped objects are fixed, so one cluster holds one installation;
``deploy/ml-extension.yaml`` is generated from ``render`` and a unit test fails when it drifts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from tether import __version__
from tether.errors import InvalidRequest
from tether.kube import extension_crds, extension_rbac
from tether.kube.extension_names import (
    CLUSTER_ROLE_NAME,
    CONFIG_MAP_NAME,
    CRD_NAMES,
    DEFAULT_INSTANCE_TYPE_NAME,
    DEFAULT_NAMESPACE,
    DEFAULT_OPERATOR_IMAGE,
    DEPLOYMENT_NAME,
    EXTENSION_NAME,
    GPU_RESOURCE,
    HEARTBEAT_LEASE_NAME,
    INSTANCE_TYPE_GROUP,
    INSTANCE_TYPE_KIND,
    INSTANCE_TYPE_PLURAL,
    INSTANCE_TYPE_VERSION,
    INSTANCE_TYPES_CRD_NAME,
    JOB_GROUP,
    JOB_KIND,
    JOB_PLURAL,
    JOB_VERSION,
    LABELS,
    MANAGED_BY_LABEL,
    NVIDIA_DEVICE_PLUGIN_IMAGE,
    NVIDIA_DEVICE_PLUGIN_NAME,
    SERVICE_ACCOUNT_NAME,
    STATUS_CONFIG_MAP_NAME,
    TETHER_JOBS_CRD_NAME,
    WORKLOADS_CLUSTER_ROLE_NAME,
    object_meta,
)

# The shared names are re-exported: most code reads them as ``extension_manifests.NAME``.
__all__ = [
    "CLUSTER_ROLE_NAME",
    "CONFIG_MAP_NAME",
    "CRD_NAMES",
    "DEFAULT_INSTANCE_TYPE_NAME",
    "DEFAULT_NAMESPACE",
    "DEFAULT_OPERATOR_IMAGE",
    "DEPLOYMENT_NAME",
    "EXTENSION_NAME",
    "GPU_RESOURCE",
    "HEARTBEAT_LEASE_NAME",
    "INSTANCE_TYPES_CRD_NAME",
    "INSTANCE_TYPE_GROUP",
    "INSTANCE_TYPE_KIND",
    "INSTANCE_TYPE_PLURAL",
    "INSTANCE_TYPE_VERSION",
    "JOB_GROUP",
    "JOB_KIND",
    "JOB_PLURAL",
    "JOB_VERSION",
    "LABELS",
    "MANAGED_BY_LABEL",
    "NVIDIA_DEVICE_PLUGIN_IMAGE",
    "NVIDIA_DEVICE_PLUGIN_NAME",
    "REGENERATE_DEPLOY_YAML",
    "SERVICE_ACCOUNT_NAME",
    "STATUS_CONFIG_MAP_NAME",
    "TETHER_JOBS_CRD_NAME",
    "WORKLOADS_CLUSTER_ROLE_NAME",
    "ExtensionConfig",
    "nvidia_device_plugin",
    "object_meta",
    "operator_deployment",
    "render",
    "render_yaml",
    "settings_data",
]

_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_NODE_SELECTOR_SETTING = "nodeSelector."
_BOOLEAN_SETTINGS = {
    "enableTraining": "enable_training",
    "enableInference": "enable_inference",
    "installNvidiaDevicePlugin": "install_nvidia_device_plugin",
}


def _check_label(key: str, value: str) -> None:
    prefix, _, name = key.rpartition("/")
    valid_key = bool(_LABEL_NAME.fullmatch(name)) and (not prefix or bool(_LABEL_PREFIX.fullmatch(prefix)))
    if not valid_key or not (value == "" or _LABEL_NAME.fullmatch(value)):
        raise InvalidRequest(
            f"nodeSelector.{key}={value!r} is not a valid node label selector: keys are [prefix/]name and "
            "values at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit.",
            code="InvalidConfigurationSettings",
            target=f"properties.configurationSettings.nodeSelector.{key}",
        )


@dataclass(frozen=True)
class ExtensionConfig:
    """How one cluster's ML extension is installed; built from the ARM extension resource."""

    namespace: str = DEFAULT_NAMESPACE
    release_train: str = "stable"
    version: str = __version__
    enable_training: bool = True
    enable_inference: bool = False
    node_selector: Mapping[str, str] = field(default_factory=dict)
    install_nvidia_device_plugin: bool = False
    operator_image: str = DEFAULT_OPERATOR_IMAGE
    in_cluster: bool = True
    """True: the operator runs as the Deployment; False: as a local process (simulated-node clusters)."""

    def __post_init__(self) -> None:
        if not _NAMESPACE.fullmatch(self.namespace):
            raise InvalidRequest(
                f"'{self.namespace}' is not a valid release namespace: use an RFC 1123 label.",
                code="InvalidConfigurationSettings",
                target="properties.scope.cluster.releaseNamespace",
            )
        if not (self.enable_training or self.enable_inference):
            raise InvalidRequest(
                "The ML extension needs enableTraining=True or enableInference=True in configurationSettings.",
                code="InvalidConfigurationSettings",
                target="properties.configurationSettings",
            )
        for key, value in self.node_selector.items():
            _check_label(key, value)

    @classmethod
    def from_configuration_settings(
        cls,
        settings: Mapping[str, str],
        *,
        release_train: str = "stable",
        namespace: str = DEFAULT_NAMESPACE,
        version: str = __version__,
        operator_image: str = DEFAULT_OPERATOR_IMAGE,
        in_cluster: bool = True,
    ) -> ExtensionConfig:
        """Parse ``configurationSettings`` (``"True"``/``"False"``, ``nodeSelector.<key>``); others are ignored."""
        flags: dict[str, bool] = {"enable_training": False, "enable_inference": False}
        selector: dict[str, str] = {}
        for key, value in settings.items():
            if key in _BOOLEAN_SETTINGS:
                if str(value).strip().lower() not in ("true", "false"):
                    raise InvalidRequest(
                        f"configurationSettings.{key} must be True or False, not {value!r}.",
                        code="InvalidConfigurationSettings",
                        target=f"properties.configurationSettings.{key}",
                    )
                flags[_BOOLEAN_SETTINGS[key]] = str(value).strip().lower() == "true"
            elif key.startswith(_NODE_SELECTOR_SETTING):
                selector[key.removeprefix(_NODE_SELECTOR_SETTING)] = str(value)
        return cls(
            namespace=namespace,
            release_train=release_train,
            version=version,
            node_selector=selector,
            operator_image=operator_image,
            in_cluster=in_cluster,
            **flags,
        )

    @property
    def operator_mode(self) -> str:
        return "in-cluster" if self.in_cluster else "local-process"


def settings_data(config: ExtensionConfig) -> dict[str, str]:
    """The settings ConfigMap's data; the operator reads it every tick (docs/ml-extension.md)."""

    def flag(value: bool) -> str:
        return "true" if value else "false"

    return {
        "releaseTrain": config.release_train,
        "version": config.version,
        "enableTraining": flag(config.enable_training),
        "enableInference": flag(config.enable_inference),
        "installNvidiaDevicePlugin": flag(config.install_nvidia_device_plugin),
        "nodeSelector": json.dumps(dict(sorted(config.node_selector.items()))),
        "operatorMode": config.operator_mode,
    }


def operator_deployment(config: ExtensionConfig) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": EXTENSION_NAME}
    container = {
        "name": "operator",
        "image": config.operator_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["tether", "agent", "extension", "--in-cluster", "--namespace", config.namespace],
        "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}, {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_spec = {
        "serviceAccountName": SERVICE_ACCOUNT_NAME,
        "automountServiceAccountToken": True,
        "nodeSelector": {"kubernetes.io/os": "linux", **dict(config.node_selector)},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(DEPLOYMENT_NAME, namespace=config.namespace),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},  # one heartbeat writer at a time
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod_spec},
        },
    }


def nvidia_device_plugin(config: ExtensionConfig) -> dict[str, Any]:
    labels = {**LABELS, "app.kubernetes.io/name": NVIDIA_DEVICE_PLUGIN_NAME}
    gpu_nodes = [
        {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "Exists"}]},
        {"matchExpressions": [{"key": "kubernetes.azure.com/accelerator", "operator": "Exists"}]},
    ]
    container = {
        "name": "nvidia-device-plugin",
        "image": NVIDIA_DEVICE_PLUGIN_IMAGE,
        "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {**object_meta(NVIDIA_DEVICE_PLUGIN_NAME, namespace=config.namespace), "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": NVIDIA_DEVICE_PLUGIN_NAME}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": gpu_nodes}
                        }
                    },
                    "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [container],
                    "volumes": [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}],
                },
            },
        },
    }


def render(config: ExtensionConfig) -> list[dict[str, Any]]:
    """Every object of the installation, in apply order (namespace and CRDs first)."""
    ns = config.namespace
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": object_meta(ns)},
        extension_crds.instance_type_crd(),
        extension_crds.tether_job_crd(),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": object_meta(SERVICE_ACCOUNT_NAME, namespace=ns)},
        *extension_rbac.rbac(ns),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": object_meta(CONFIG_MAP_NAME, namespace=ns),
            "data": settings_data(config),
        },
    ]
    if config.install_nvidia_device_plugin:
        objects.append(nvidia_device_plugin(config))
    if config.in_cluster:
        objects.append(operator_deployment(config))
    return objects


REGENERATE_DEPLOY_YAML = (
    ".venv/bin/python -c 'import tether.kube.extension_manifests as m; "
    'open("deploy/ml-extension.yaml", "w").write(m.render_yaml())\''
)


def render_yaml(config: ExtensionConfig | None = None) -> str:
    """``render`` as one multi-document YAML (``deploy/ml-extension.yaml`` is this with the defaults)."""
    config = config or ExtensionConfig()
    header = (
        "# The ML extension, installed in the cluster (operator as a Deployment), with default settings.\n"
        "# Generated from tether.kube.extension_manifests.render; do not edit. Regenerate with:\n"
        f"#   {REGENERATE_DEPLOY_YAML}\n"
    )
    return header + yaml.safe_dump_all(render(config), sort_keys=False, explicit_start=True, width=120)
