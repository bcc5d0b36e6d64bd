"""What the ML extension installs into a cluster, rendered as plain Kubernetes objects (pure: no I/O).

``render(config)`` returns, in apply order: the release namespace, the two CRDs (``InstanceType``,
``TetherJob``), the operator's ServiceAccount, its RBAC, the settings ConfigMap and — only when the
operator runs in the cluster — its Deployment (plus the NVIDIA device plugin DaemonSet when asked for).
``ExtensionConfig.from_configuration_settings`` turns an ARM extension's ``configurationSettings`` into
a config, refusing what Azure refuses.

The CRD schemas are the contract the API server enforces: an invalid ``InstanceType`` is refused with
a 422 before anything reads it. Rules the structural schema cannot say are CEL
(``x-kubernetes-validations``; needs kube-apiserver >= 1.29 for ``quantity()``).

Hazards: the RBAC here is the operator's whole power in the cluster, so a new verb is a security
decision (docs/ml-extension.md says why each one exists); names of cluster-scoped objects are fixed, so
one cluster holds one installation; ``deploy/ml-extension.yaml`` is generated from ``render`` and a unit
test fails when it drifts.
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

# Names shared by the installer, the operator and the readers (docs/ml-extension.md is the contract).
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


def _meta(name: str, *, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _validations(*rules: tuple[str, str]) -> list[dict[str, str]]:
    return [{"rule": rule, "message": message} for rule, message in rules]


def _quantity(path: str, *, positive: bool) -> dict[str, Any]:
    """An int-or-string Kubernetes quantity, checked with CEL's quantity library."""
    rules = [("isQuantity(string(self))", f"{path} must be a Kubernetes quantity such as 500m, 2 or 4Gi")]
    if positive:
        rules.append(
            (
                "!isQuantity(string(self)) || quantity(string(self)).isGreaterThan(quantity('0'))",
                f"{path} must be greater than zero",
            )
        )
    return {"x-kubernetes-int-or-string": True, "x-kubernetes-validations": _validations(*rules)}


_GPU_FIELD = "nvidia__dot__com__slash__gpu"  # CEL's escaping of the property name "nvidia.com/gpu"


def _limits_at_least_requests(resource: str) -> tuple[str, str]:
    r, lim = f"self.requests.{resource}", f"self.limits.{resource}"
    rule = (
        f"!has(self.requests) || !has(self.limits) || !has({r}) || !has({lim}) || "
        f"!isQuantity(string({r})) || !isQuantity(string({lim})) || "
        f"quantity(string({lim})).compareTo(quantity(string({r}))) >= 0"
    )
    return rule, f"resources.limits.{resource} must be at least resources.requests.{resource}"


def instance_type_crd() -> dict[str, Any]:
    """``instancetypes.amlarc.azureml.com``: REFERENCE.md's rules, enforced by the API server."""
    requests = {
        "type": "object",
        "description": "What each pod requests. cpu and memory are required and non-zero; no GPUs here.",
        "required": ["cpu", "memory"],
        "properties": {
            "cpu": _quantity("resources.requests.cpu", positive=True),
            "memory": _quantity("resources.requests.memory", positive=True),
            # Listed only so that it is refused with a clear message instead of silently pruned.
            GPU_RESOURCE: {"x-kubernetes-int-or-string": True},
        },
        "x-kubernetes-validations": _validations(
            (
                f"!has(self.{_GPU_FIELD})",
                "resources.requests must not contain nvidia.com/gpu: GPUs are set in resources.limits only",
            )
        ),
    }
    limits = {
        "type": "object",
        "description": "Each pod's limits. cpu and memory are required; nvidia.com/gpu is a whole number.",
        "required": ["cpu", "memory"],
        "properties": {
            "cpu": _quantity("resources.limits.cpu", positive=False),
            "memory": _quantity("resources.limits.memory", positive=False),
            GPU_RESOURCE: {"type": "integer", "minimum": 0, "description": "Whole GPUs per pod."},
        },
    }
    spec = {
        "type": "object",
        "required": ["resources"],
        "properties": {
            "nodeSelector": {
                "type": "object",
                "description": "Node labels a pod of this instance type must match.",
                "additionalProperties": {"type": "string"},
            },
            "resources": {
                "type": "object",
                "required": ["requests", "limits"],
                "properties": {"requests": requests, "limits": limits},
                "x-kubernetes-validations": _validations(
                    _limits_at_least_requests("cpu"), _limits_at_least_requests("memory")
                ),
            },
        },
    }
    columns = [
        ("CPU-Request", ".spec.resources.requests.cpu"),
        ("Memory-Request", ".spec.resources.requests.memory"),
        ("CPU-Limit", ".spec.resources.limits.cpu"),
        ("Memory-Limit", ".spec.resources.limits.memory"),
        ("GPU", ".spec.resources.limits.nvidia\\.com/gpu"),
    ]
    return _crd(
        group=INSTANCE_TYPE_GROUP,
        kind=INSTANCE_TYPE_KIND,
        plural=INSTANCE_TYPE_PLURAL,
        scope="Cluster",
        version=INSTANCE_TYPE_VERSION,
        schema={"type": "object", "required": ["spec"], "properties": {"spec": spec}},
        columns=[{"name": n, "type": "string", "jsonPath": p} for n, p in columns],
        status=False,
    )


_DATE_TIME = {"type": "string", "format": "date-time"}
JOB_PHASES = ("Pending", "Starting", "Running", "Succeeded", "Failed", "Canceled")
_IMMUTABLE_SPEC_FIELDS = ("jobName", "command", "image", "instanceType", "instanceCount", "computeName", "workspaceId")


def _optional_unchanged(name: str) -> str:
    return f"(has(self.{name}) ? has(oldSelf.{name}) && self.{name} == oldSelf.{name} : !has(oldSelf.{name}))"


def _job_spec() -> dict[str, Any]:
    immutable = " && ".join(
        [f"self.{f} == oldSelf.{f}" for f in _IMMUTABLE_SPEC_FIELDS]
        + [_optional_unchanged(f) for f in ("identity", "environmentVariables", "podAnnotations")]
    )
    return {
        "type": "object",
        "required": ["jobName", "command", "image", "computeName", "workspaceId"],
        "properties": {
            "jobName": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$",
                "description": "The Tether (Azure ML) job name.",
            },
            "command": {"type": "string", "minLength": 1, "maxLength": 65536, "description": "Run by /bin/sh -c."},
            "image": {"type": "string", "minLength": 1, "maxLength": 1024},
            "instanceType": {
                "type": "string",
                "default": DEFAULT_INSTANCE_TYPE_NAME,
                "maxLength": 253,
                "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                "description": "Name of an InstanceType (or the built-in defaultinstancetype).",
            },
            "instanceCount": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 1},
            "environmentVariables": {
                "type": "object",
                "maxProperties": 256,
                "additionalProperties": {"type": "string", "maxLength": 32768},
            },
            "podAnnotations": {
                "type": "object",
                "description": "Annotations copied onto every pod (e.g. the local cluster's tether.dev/simulate-*).",
                "maxProperties": 64,
                "additionalProperties": {"type": "string", "maxLength": 16384},
            },
            "identity": {
                "type": "object",
                "description": "The compute identity, injected as azure-identity's workload-identity environment.",
                "required": ["clientId", "tenantId", "authorityHost", "serviceAccountName"],
                "properties": {
                    "clientId": {"type": "string", "minLength": 1, "maxLength": 128},
                    "tenantId": {"type": "string", "minLength": 1, "maxLength": 128},
                    "authorityHost": {"type": "string", "pattern": "^https://", "maxLength": 2048},
                    "serviceAccountName": {
                        "type": "string",
                        "maxLength": 253,
                        "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                    },
                },
            },
            "computeName": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$"},
            "workspaceId": {"type": "string", "pattern": "^/subscriptions/[^/]+/", "maxLength": 1024},
            "cancelRequested": {
                "type": "boolean",
                "default": False,
                "description": "Set to true to cancel the job; cannot be unset.",
            },
        },
        "x-kubernetes-validations": _validations(
            (immutable, "spec is immutable (except cancelRequested): delete and recreate the TetherJob instead"),
            ("!oldSelf.cancelRequested || self.cancelRequested", "spec.cancelRequested cannot be unset once true"),
        ),
    }


def _job_status() -> dict[str, Any]:
    condition = {
        "type": "object",
        "required": ["type", "status", "lastTransitionTime"],
        "properties": {
            "type": {"type": "string", "maxLength": 316},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "observedGeneration": {"type": "integer", "minimum": 0},
            "lastTransitionTime": _DATE_TIME,
            "reason": {"type": "string", "maxLength": 1024},
            "message": {"type": "string", "maxLength": 32768},
        },
    }
    pod = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "index": {"type": "integer", "minimum": 0},
            "phase": {"type": "string"},
            "nodeName": {"type": "string"},
            "exitCode": {"type": "integer"},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "startTime": _DATE_TIME,
            "finishTime": _DATE_TIME,
        },
    }
    return {
        "type": "object",
        "properties": {
            "phase": {"type": "string", "enum": list(JOB_PHASES)},
            "reason": {"type": "string", "description": "Machine-readable cause of the phase (CamelCase)."},
            "message": {"type": "string", "description": "What happened and what to do, for people."},
            "observedGeneration": {"type": "integer", "minimum": 0},
            "startTime": _DATE_TIME,
            "runningTime": _DATE_TIME,
            "completionTime": _DATE_TIME,
            "pods": {
                "type": "array",
                "items": pod,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
            "conditions": {
                "type": "array",
                "items": condition,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        },
    }


def tether_job_crd() -> dict[str, Any]:
    """``tetherjobs.tether.dev``: one Tether job, turned into pods by the operator; status written back."""
    columns = [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Compute", "type": "string", "jsonPath": ".spec.computeName"},
        {"name": "Instance-Type", "type": "string", "jsonPath": ".spec.instanceType"},
        {"name": "Count", "type": "integer", "jsonPath": ".spec.instanceCount"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {"spec": _job_spec(), "status": _job_status()},
    }
    return _crd(
        group=JOB_GROUP,
        kind=JOB_KIND,
        plural=JOB_PLURAL,
        scope="Namespaced",
        version=JOB_VERSION,
        schema=schema,
        columns=columns,
        status=True,
        short_names=["tjob"],
    )


def _crd(
    *,
    group: str,
    kind: str,
    plural: str,
    scope: str,
    version: str,
    schema: dict[str, Any],
    columns: list[dict[str, str]],
    status: bool,
    short_names: list[str] | None = None,
) -> dict[str, Any]:
    names: dict[str, Any] = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}
    if short_names:
        names["shortNames"] = short_names
    served: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "additionalPrinterColumns": columns,
    }
    if status:
        served["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": _meta(f"{plural}.{group}"),
        "spec": {"group": group, "names": names, "scope": scope, "versions": [served]},
    }


def _rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def rbac(config: ExtensionConfig) -> list[dict[str, Any]]:
    """Least privilege for the operator; docs/ml-extension.md gives the reason for every rule."""
    ns = config.namespace
    cluster_rules = [
        _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get"], list(CRD_NAMES)),
        _rule([INSTANCE_TYPE_GROUP], [INSTANCE_TYPE_PLURAL], ["get", "list", "watch"]),
        _rule([JOB_GROUP], [JOB_PLURAL], ["get", "list", "watch"]),
        _rule([JOB_GROUP], [f"{JOB_PLURAL}/status"], ["get", "update", "patch"]),
        _rule([JOB_GROUP], [f"{JOB_PLURAL}/finalizers"], ["update"]),
        _rule([""], ["nodes"], ["get", "list", "watch"]),
    ]
    workload_rules = [
        _rule([""], ["pods"], ["get", "list", "watch", "create", "delete"]),
        _rule([""], ["serviceaccounts"], ["get", "create", "patch"]),
        _rule([""], ["serviceaccounts/token"], ["create"]),
        _rule(["", "events.k8s.io"], ["events"], ["create"]),
    ]
    own_rules = [
        _rule(["coordination.k8s.io"], ["leases"], ["create"]),
        _rule(["coordination.k8s.io"], ["leases"], ["get", "update", "patch"], [HEARTBEAT_LEASE_NAME]),
        _rule([""], ["configmaps"], ["create"]),
        _rule([""], ["configmaps"], ["get", "update", "patch"], [STATUS_CONFIG_MAP_NAME]),
        _rule([""], ["configmaps"], ["get"], [CONFIG_MAP_NAME]),
    ]
    subject = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT_NAME, "namespace": ns}]
    rbac_api = "rbac.authorization.k8s.io/v1"

    def binding(kind: str, name: str, role_kind: str, namespace: str | None = None) -> dict[str, Any]:
        role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name}
        return {
            "apiVersion": rbac_api,
            "kind": kind,
            "metadata": _meta(name, namespace=namespace),
            "roleRef": role_ref,
            "subjects": subject,
        }

    return [
        {"apiVersion": rbac_api, "kind": "ClusterRole", "metadata": _meta(CLUSTER_ROLE_NAME), "rules": cluster_rules},
        {
            "apiVersion": rbac_api,
            "kind": "ClusterRole",
            "metadata": _meta(WORKLOADS_CLUSTER_ROLE_NAME),
            "rules": workload_rules,
        },
        binding("ClusterRoleBinding", CLUSTER_ROLE_NAME, "ClusterRole"),
        binding("ClusterRoleBinding", WORKLOADS_CLUSTER_ROLE_NAME, "ClusterRole"),
        {"apiVersion": rbac_api, "kind": "Role", "metadata": _meta(EXTENSION_NAME, namespace=ns), "rules": own_rules},
        binding("RoleBinding", EXTENSION_NAME, "Role", ns),
    ]


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
        "metadata": _meta(DEPLOYMENT_NAME, namespace=config.namespace),
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
        "metadata": {**_meta(NVIDIA_DEVICE_PLUGIN_NAME, namespace=config.namespace), "labels": labels},
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
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns)},
        instance_type_crd(),
        tether_job_crd(),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(SERVICE_ACCOUNT_NAME, namespace=ns)},
        *rbac(config),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(CONFIG_MAP_NAME, namespace=ns),
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
