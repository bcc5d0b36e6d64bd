"""What the operator creates for a job, rendered as plain Kubernetes objects (pure: no I/O).

``render_pod`` gives pod ``<cr>-<index>`` of a TetherJob: one container running ``spec.command`` with
``/bin/sh -c``, the instance type's requests, limits and node selector, ``spec.podAnnotations``, an
owner reference to the TetherJob (deleting the job deletes its pods) and — when the job carries an
identity — azure-identity's workload-identity contract: ``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID``,
``AZURE_AUTHORITY_HOST``, ``AZURE_FEDERATED_TOKEN_FILE`` and a projected service-account token
(audience ``api://AzureADTokenExchange``) at that path. ``render_service_account`` gives the compute
identity's ServiceAccount (annotated with the client id; the control plane federates it).

Hazards: no Secret is ever referenced — the token is projected by the kubelet and expires after an
hour (the kubelet refreshes the file); the pods do not mount a Kubernetes API token
(``automountServiceAccountToken: false``), so workloads cannot act on the cluster with the compute's
service account; the identity variables win over ``environmentVariables`` of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tether.agents.extension.delivery import apply_delivery
from tether.agents.extension.jobspec import (
    CLIENT_ID_ANNOTATION,
    COMPUTE_LABEL,
    INDEX_LABEL,
    JOB_LABEL,
    JOB_NAME_ANNOTATION,
    MANAGED_BY,
    WORKSPACE_ID_ANNOTATION,
    WORKSPACE_LABEL,
    JobSpec,
    label_value,
    pod_name,
    workspace_label,
)
from tether.domain.principals import TOKEN_EXCHANGE_AUDIENCE
from tether.kube import extension_manifests as m
from tether.kube.extension_status import InstanceTypeInfo

CONTAINER_NAME = "main"
TOKEN_EXPIRATION_S = 3600
TOKEN_VOLUME = "azure-identity-token"
TOKEN_DIR = "/var/run/secrets/azure/tokens"
TOKEN_PATH = "azure-identity-token"
TOKEN_FILE = f"{TOKEN_DIR}/{TOKEN_PATH}"
#: The authority's CA (when it has a private one): a pod annotation projected as a file next to the token,
#: named by the variables Python's ssl and requests read. No ConfigMap or Secret is needed.
CA_BUNDLE_ANNOTATION = "tether.dev/authority-ca-bundle"
CA_PATH = "authority-ca.crt"
CA_FILE = f"{TOKEN_DIR}/{CA_PATH}"
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
DEFAULT_SERVICE_ACCOUNT = "default"
GPU_TOLERATION = {"key": m.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
#: Nodes without a pod network (the local cluster's real node) carry this label and a taint of the same
#: key; a pod whose node selector asks for ``host`` runs on the host network and tolerates the taint.
POD_NETWORK_LABEL = "tether.dev/pod-network"
POD_NETWORK_HOST = "host"
HOST_NETWORK_TOLERATION = {
    "key": POD_NETWORK_LABEL,
    "operator": "Equal",
    "value": POD_NETWORK_HOST,
    "effect": "NoSchedule",
}


@dataclass(frozen=True)
class JobRef:
    """Which TetherJob an object belongs to (its owner reference)."""

    namespace: str
    name: str
    uid: str


def owner_reference(job: JobRef) -> dict[str, Any]:
    return {
        "apiVersion": f"{m.JOB_GROUP}/{m.JOB_VERSION}",
        "kind": m.JOB_KIND,
        "name": job.name,
        "uid": job.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pull_secret_name(job: str) -> str:
    return f"{job}-pull"


def pod_requests(instance_type: InstanceTypeInfo) -> dict[str, str]:
    """What one pod asks the scheduler for (extended resources are requested as their limit)."""
    requests = dict(instance_type.requests)
    if instance_type.gpus:
        requests[m.GPU_RESOURCE] = str(instance_type.gpus)
    return requests


def node_selector_for(instance_type: InstanceTypeInfo, extension_selector: Mapping[str, str]) -> dict[str, str]:
    """The extension's ``nodeSelector.<key>`` settings overlaid by the instance type's own selector."""
    return {**extension_selector, **(instance_type.node_selector or {})}


def uses_host_network(node_selector: Mapping[str, str]) -> bool:
    return node_selector.get(POD_NETWORK_LABEL) == POD_NETWORK_HOST


def pod_tolerations(instance_type: InstanceTypeInfo, node_selector: Mapping[str, str]) -> list[dict[str, str]]:
    """GPU pods tolerate the GPU taint; pods selecting host-network nodes tolerate theirs."""
    tolerations = [dict(GPU_TOLERATION)] if instance_type.gpus else []
    if uses_host_network(node_selector):
        tolerations.append(dict(HOST_NETWORK_TOLERATION))
    return tolerations


def _env(spec: JobSpec, *, index: int) -> list[dict[str, str]]:
    ours = {
        "TETHER_JOB_NAME": spec.job_name,
        "TETHER_INSTANCE_INDEX": str(index),
        "TETHER_INSTANCE_COUNT": str(spec.instance_count),
    }
    if spec.identity is not None:
        ours |= {
            "AZURE_CLIENT_ID": spec.identity.client_id,
            "AZURE_TENANT_ID": spec.identity.tenant_id,
            "AZURE_AUTHORITY_HOST": spec.identity.authority_host,
            "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
        }
        if spec.identity.ca_bundle:
            ours |= {"REQUESTS_CA_BUNDLE": CA_FILE, "SSL_CERT_FILE": CA_FILE}
    theirs = [{"name": k, "value": v} for k, v in spec.environment_variables.items() if k not in ours]
    return theirs + [{"name": k, "value": v} for k, v in ours.items()]


def render_pod(
    job: JobRef,
    spec: JobSpec,
    *,
    index: int,
    instance_type: InstanceTypeInfo,
    extension_node_selector: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Pod ``<job>-<index>`` of the job, ready for ``create``."""
    limits: dict[str, Any] = dict(instance_type.limits)
    if instance_type.gpus:
        limits[m.GPU_RESOURCE] = str(instance_type.gpus)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "command": ["/bin/sh", "-c", spec.command],
        "env": _env(spec, index=index),
        "resources": {"requests": dict(instance_type.requests), "limits": limits},
    }
    if spec.image_registry:
        # Every pod's pull is checked by the registry (with its own credential), even when the node has
        # the image already: a pod whose identity lost AcrPull must not run a cached image.
        container["imagePullPolicy"] = "Always"
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": spec.identity.service_account_name if spec.identity else DEFAULT_SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [container],
    }
    if spec.image_registry:
        pod_spec["imagePullSecrets"] = [{"name": pull_secret_name(job.name)}]
    selector = node_selector_for(instance_type, extension_node_selector or {})
    if selector:
        pod_spec["nodeSelector"] = selector
    tolerations = pod_tolerations(instance_type, selector)
    if tolerations:
        pod_spec["tolerations"] = tolerations
    if uses_host_network(selector):
        pod_spec["hostNetwork"] = True
    if spec.timeout_seconds is not None:
        pod_spec["activeDeadlineSeconds"] = spec.timeout_seconds  # limits.timeout: the kubelet stops the pod
    if spec.identity is not None:
        container["volumeMounts"] = [{"name": TOKEN_VOLUME, "mountPath": TOKEN_DIR, "readOnly": True}]
        token = {"audience": TOKEN_EXCHANGE_AUDIENCE, "expirationSeconds": TOKEN_EXPIRATION_S, "path": TOKEN_PATH}
        sources: list[dict[str, Any]] = [{"serviceAccountToken": token}]
        if spec.identity.ca_bundle:
            field = {"fieldPath": f"metadata.annotations['{CA_BUNDLE_ANNOTATION}']"}
            sources.append({"downwardAPI": {"items": [{"path": CA_PATH, "fieldRef": field}]}})
        pod_spec["volumes"] = [{"name": TOKEN_VOLUME, "projected": {"sources": sources}}]
    if spec.delivery is not None:
        apply_delivery(pod_spec, container, spec.delivery, command=spec.command)
    labels = {
        **MANAGED_BY,
        JOB_LABEL: job.name,
        COMPUTE_LABEL: label_value(spec.compute_name),
        WORKSPACE_LABEL: workspace_label(spec.workspace_id),
        INDEX_LABEL: str(index),
    }
    annotations = {
        **spec.pod_annotations,
        JOB_NAME_ANNOTATION: spec.job_name,
        WORKSPACE_ID_ANNOTATION: spec.workspace_id,
    }
    if spec.identity is not None and spec.identity.ca_bundle:
        annotations[CA_BUNDLE_ANNOTATION] = spec.identity.ca_bundle
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(job.name, index),
            "namespace": job.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(job)],
        },
        "spec": pod_spec,
    }


def render_service_account(namespace: str, spec: JobSpec) -> dict[str, Any] | None:
    """The compute identity's ServiceAccount (``None`` for a job without identity: pods use ``default``)."""
    if spec.identity is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": spec.identity.service_account_name,
            "namespace": namespace,
            "labels": {**MANAGED_BY, COMPUTE_LABEL: label_value(spec.compute_name)},
            "annotations": {
                CLIENT_ID_ANNOTATION: spec.identity.client_id,
                TENANT_ID_ANNOTATION: spec.identity.tenant_id,
            },
        },
        "automountServiceAccountToken": False,
    }
