"""The ML extension's two CustomResourceDefinitions, ``InstanceType`` and ``TetherJob`` (pure: no I/O).

The CRD schemas are the contract the API server enforces: an invalid ``InstanceType`` is refused with
a 422 before anything reads it. Rules the structural schema cannot say are CEL
(``x-kubernetes-validations``; needs kube-apiserver >= 1.29 for ``quantity()``).
``tether.kube.extension_manifests.render`` puts these into the installation; the group, kind and
names they use are the constants of ``tether.kube.extension_names``.
"""

from __future__ import annotations

from typing import Any

from tether.kube.extension_names import (
    DEFAULT_INSTANCE_TYPE_NAME,
    GPU_RESOURCE,
    INSTANCE_TYPE_GROUP,
    INSTANCE_TYPE_KIND,
    INSTANCE_TYPE_PLURAL,
    INSTANCE_TYPE_VERSION,
    JOB_GROUP,
    JOB_KIND,
    JOB_PLURAL,
    JOB_VERSION,
    object_meta,
)


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


def _delivery_schema() -> dict[str, Any]:
    fields: dict[str, Any] = {
        "containerUrl": {"type": "string", "pattern": "^https://", "maxLength": 4096},
        "prefix": {"type": "string", "maxLength": 1024},
    }
    place = {"type": "object", "required": ["containerUrl"], "properties": fields}
    output = {
        "type": "object",
        "required": ["name", "containerUrl"],
        "properties": {**fields, "name": {"type": "string", "pattern": "^[A-Za-z0-9_]{1,255}$"}},
    }
    return {
        "type": "object",
        "description": "The code snapshot the pods download before the command, and where they upload its outputs.",
        "properties": {
            "code": place,
            "outputs": {"type": "array", "maxItems": 256, "items": output},
            "caBundle": {"type": "string", "maxLength": 65536},
        },
    }


def _job_spec() -> dict[str, Any]:
    immutable = " && ".join(
        [f"self.{f} == oldSelf.{f}" for f in _IMMUTABLE_SPEC_FIELDS]
        + [
            _optional_unchanged(f)
            for f in (
                "identity",
                "environmentVariables",
                "podAnnotations",
                "timeoutSeconds",
                "delivery",
                "imageRegistry",
            )
        ]
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
                    "caBundle": {
                        "type": "string",
                        "maxLength": 65536,
                        "description": "PEM certificates the pods trust for authorityHost (a private CA's).",
                    },
                    "serviceAccountName": {
                        "type": "string",
                        "maxLength": 253,
                        "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                    },
                },
            },
            "timeoutSeconds": {
                "type": "integer",
                "minimum": 1,
                "description": "limits.timeout: the pods' activeDeadlineSeconds.",
            },
            "delivery": _delivery_schema(),
            "imageRegistry": {
                "type": "object",
                "description": "The Tether registry holding the image: pods pull it with the compute identity.",
                "required": ["loginServer"],
                "properties": {"loginServer": {"type": "string", "minLength": 1, "maxLength": 300}},
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
        "metadata": object_meta(f"{plural}.{group}"),
        "spec": {"group": group, "names": names, "scope": scope, "versions": [served]},
    }
