"""A TetherJob as the operator reads it: the custom resource's ``spec`` parsed into typed values (pure).

The API server already enforces the CRD schema (docs/ml-extension.md), so parsing fails only for
objects written around it (an older CRD, a hand-edited object); ``JobFailed`` then carries reason
``InvalidSpec`` and the job fails instead of the operator crashing. This module also holds the names
the operator stamps on what it creates (labels, annotations), shared with the control plane's readers.

Hazards: pod names are ``<cr name>-<index>`` and the CR name is a label value, so a CR name longer than
``MAX_JOB_NAME_LENGTH`` is refused here (the dispatcher keeps its names short); ``cancelRequested`` is
the only field that may change after creation (CEL rules on the CRD), so everything else can be cached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tether.agents.extension.delivery import Delivery
from tether.errors import TetherError
from tether.kube import extension_manifests as m

JOB_LABEL = "tether.dev/job"
"""On every pod of a job: the TetherJob's name (the control plane finds a job's pods, and logs, by it)."""
COMPUTE_LABEL = "tether.dev/compute"
WORKSPACE_LABEL = "tether.dev/workspace"
INDEX_LABEL = "tether.dev/instance-index"
JOB_NAME_ANNOTATION = "tether.dev/job-name"
WORKSPACE_ID_ANNOTATION = "tether.dev/workspace-id"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
MANAGED_BY = {"app.kubernetes.io/managed-by": "tether", "app.kubernetes.io/part-of": "tether"}

MAX_JOB_NAME_LENGTH = 57
"""A label value is at most 63 characters, and ``-<index>`` (up to 1023) must fit after it in a pod's name."""

_LABEL_VALUE_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class JobFailed(TetherError):
    """A permanent failure of one job: the job's phase becomes ``Failed`` with ``code`` as its reason."""

    code: str = "InvalidSpec"


@dataclass(frozen=True)
class Identity:
    """The compute identity the pods act as (azure-identity's workload-identity contract)."""

    client_id: str
    tenant_id: str
    authority_host: str
    service_account_name: str
    ca_bundle: str | None = None


@dataclass(frozen=True)
class JobSpec:
    """``spec`` of a TetherJob; field names follow the CR's camelCase keys."""

    job_name: str
    command: str
    image: str
    compute_name: str
    workspace_id: str
    instance_type: str = m.DEFAULT_INSTANCE_TYPE_NAME
    instance_count: int = 1
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    identity: Identity | None = None
    #: The login server of the Tether registry holding ``image``: pods pull with the compute identity.
    image_registry: str | None = None
    cancel_requested: bool = False
    timeout_seconds: int | None = None
    delivery: Delivery | None = None

    @classmethod
    def from_cr(cls, spec: Mapping[str, Any]) -> JobSpec:
        """Parse a CR's ``spec``; ``JobFailed`` (``InvalidSpec``) if it is not what the CRD allows."""
        try:
            identity = spec.get("identity")
            count = spec.get("instanceCount", 1)
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1024:
                raise ValueError(f"instanceCount must be a whole number from 1 to 1024, not {count!r}")
            return cls(
                job_name=_text(spec, "jobName"),
                command=_text(spec, "command"),
                image=_text(spec, "image"),
                compute_name=_text(spec, "computeName"),
                workspace_id=_text(spec, "workspaceId"),
                instance_type=str(spec.get("instanceType") or m.DEFAULT_INSTANCE_TYPE_NAME),
                instance_count=count,
                environment_variables=_strings(spec.get("environmentVariables"), "environmentVariables"),
                pod_annotations=_strings(spec.get("podAnnotations"), "podAnnotations"),
                identity=Identity(
                    client_id=_text(identity, "clientId"),
                    tenant_id=_text(identity, "tenantId"),
                    authority_host=_text(identity, "authorityHost"),
                    service_account_name=_text(identity, "serviceAccountName"),
                    ca_bundle=identity.get("caBundle") or None,
                )
                if identity
                else None,
                image_registry=(spec.get("imageRegistry") or {}).get("loginServer") or None,
                cancel_requested=spec.get("cancelRequested") is True,
                timeout_seconds=_positive(spec.get("timeoutSeconds"), "timeoutSeconds"),
                delivery=Delivery.from_cr(spec["delivery"]) if spec.get("delivery") else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise JobFailed(f"The TetherJob's spec is invalid ({e}): delete it and submit the job again.") from e


def _text(spec: Mapping[str, Any], key: str) -> str:
    value = spec[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _positive(value: object, key: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{key} must be a positive whole number")
    return value


def _strings(value: object, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{key} must be a map of strings")
    return {str(k): v for k, v in value.items()}


def check_job_name(name: str) -> None:
    """``JobFailed`` (``InvalidSpec``) if pods cannot be named and labelled after this CR name."""
    if len(name) > MAX_JOB_NAME_LENGTH:
        raise JobFailed(
            f"The TetherJob name {name!r} is {len(name)} characters long; its pods need names of at most "
            f"{MAX_JOB_NAME_LENGTH}: submit it under a shorter name."
        )


def label_value(text: str) -> str:
    """``text`` made into a valid label value (at most 63 of ``[A-Za-z0-9_.-]``, alphanumeric at both ends)."""
    cleaned = _LABEL_VALUE_UNSAFE.sub("-", text)[:63]
    return cleaned.strip("-_.")


def workspace_label(workspace_id: str) -> str:
    """The workspace's name (the id's last segment) as a label value; the full id goes in an annotation."""
    return label_value(workspace_id.rstrip("/").rsplit("/", 1)[-1])


def pod_name(job: str, index: int) -> str:
    return f"{job}-{index}"
