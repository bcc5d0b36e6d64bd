"""The ML extension's status contract: instance types, the operator's status report and the health verdict.

The operator writes :class:`StatusReport` into ConfigMap ``tether-extension-status`` (docs/ml-extension.md
states its keys); the control plane calls ``read_health``/``read_instance_types`` to decide whether a
compute may attach. Kubernetes failures are raised as ``tether.errors`` types (``tether.kube.errors``).

Hazard: heartbeat freshness compares the operator's clock with the caller's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap

from tether.errors import NotFound
from tether.kube import extension_manifests as m
from tether.kube.errors import KUBE_ERRORS, get_or_none, is_not_found, kube_error
from tether.kube.resources import InstanceType

log = logging.getLogger(__name__)

DEFAULT_STALE_AFTER_S = 30.0
STATUS_SCHEMA_VERSION = "1"


# --- instance types -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceTypeInfo:
    """One instance type as a job sees it: what each pod requests, its limits, GPUs and node selector."""

    name: str
    requests: Mapping[str, str]
    limits: Mapping[str, str]
    gpus: int = 0
    node_selector: Mapping[str, str] | None = None
    built_in: bool = False

    def to_arm(self) -> dict[str, Any]:
        """The shape of a compute's ``properties.properties.instanceTypes[<name>]``."""
        limits: dict[str, Any] = dict(self.limits)
        if self.gpus:
            limits[m.GPU_RESOURCE] = self.gpus
        selector = dict(self.node_selector) if self.node_selector is not None else None
        return {"nodeSelector": selector, "resources": {"requests": dict(self.requests), "limits": limits}}

    @classmethod
    def from_arm(cls, name: str, body: Mapping[str, Any], *, built_in: bool = False) -> InstanceTypeInfo:
        """Parse the ARM shape (also an InstanceType CR's ``spec``); ``ValueError``/``TypeError`` if malformed."""
        resources = body["resources"]
        requests, limits = dict(resources["requests"]), dict(resources["limits"])
        gpus = limits.pop(m.GPU_RESOURCE, 0)
        if not isinstance(gpus, int) or isinstance(gpus, bool) or m.GPU_RESOURCE in requests:
            raise ValueError(f"instance type {name}: {m.GPU_RESOURCE} must be a whole number in limits only")
        selector = body.get("nodeSelector")
        return cls(
            name=name,
            requests={k: str(requests[k]) for k in ("cpu", "memory")},
            limits={k: str(limits[k]) for k in ("cpu", "memory")},
            gpus=gpus,
            node_selector={str(k): str(v) for k, v in selector.items()} if selector else None,
            built_in=built_in,
        )


BUILT_IN_DEFAULT = InstanceTypeInfo(
    name=m.DEFAULT_INSTANCE_TYPE_NAME,
    requests={"cpu": "100m", "memory": "2Gi"},
    limits={"cpu": "2", "memory": "2Gi"},
    built_in=True,
)


def merge_instance_types(custom: Iterable[InstanceTypeInfo]) -> list[InstanceTypeInfo]:
    """The built-in default overlaid by the custom resources (one of the same name replaces it); default first."""
    by_name = {BUILT_IN_DEFAULT.name: BUILT_IN_DEFAULT}
    by_name.update((it.name, it) for it in custom)
    return sorted(by_name.values(), key=lambda it: (it.name != m.DEFAULT_INSTANCE_TYPE_NAME, it.name))


async def read_instance_types(client: AsyncClient) -> list[InstanceTypeInfo]:
    """Every InstanceType custom resource merged over the built-in ``defaultinstancetype``."""
    try:
        objects = [obj async for obj in client.list(InstanceType)]
    except KUBE_ERRORS as e:
        if is_not_found(e):
            raise NotFound(
                f"The InstanceType CRD ({m.INSTANCE_TYPES_CRD_NAME}) is not installed: install the ML extension.",
                code="ExtensionNotInstalled",
            ) from e
        raise kube_error(e, doing="listing InstanceTypes") from e
    return instance_types_from(objects)


def instance_types_from(objects: Iterable[Any]) -> list[InstanceTypeInfo]:
    """InstanceType custom resources (malformed ones skipped, with a warning) merged over the built-in default."""
    custom: list[InstanceTypeInfo] = []
    for obj in objects:
        name = obj.metadata.name if obj.metadata else None
        try:
            custom.append(InstanceTypeInfo.from_arm(str(name), obj.get("spec") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            log.warning("skipping malformed InstanceType %s: %s", name, e)
    return merge_instance_types(custom)


# --- the status contract ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionCheck:
    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class NodeSummary:
    count: int
    ready: int
    gpu_nodes: int
    gpus: int


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class StatusReport:
    """What the operator writes into ConfigMap ``tether-extension-status`` (keys in docs/ml-extension.md)."""

    version: str
    observed_at: datetime
    checks: tuple[ExtensionCheck, ...]
    training_enabled: bool
    inference_enabled: bool
    nodes: NodeSummary | None
    instance_types: tuple[InstanceTypeInfo, ...] = field(default_factory=tuple)

    @property
    def checks_pass(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_data(self) -> dict[str, str]:
        data = {
            "schemaVersion": STATUS_SCHEMA_VERSION,
            "version": self.version,
            "observedAt": _rfc3339(self.observed_at),
            "healthy": _flag(self.checks_pass),
            "trainingEnabled": _flag(self.training_enabled),
            "inferenceEnabled": _flag(self.inference_enabled),
            "checks": json.dumps([{"name": c.name, "ok": c.ok, "message": c.message} for c in self.checks]),
            "defaultInstanceType": m.DEFAULT_INSTANCE_TYPE_NAME,
            "instanceTypes": json.dumps({it.name: it.to_arm() for it in self.instance_types}),
            "instanceTypeSources": json.dumps(
                {it.name: "built-in" if it.built_in else "custom-resource" for it in self.instance_types}
            ),
        }
        if self.nodes is not None:
            n = self.nodes
            data["nodes"] = json.dumps({"count": n.count, "ready": n.ready, "gpuNodes": n.gpu_nodes, "gpus": n.gpus})
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> StatusReport:
        """Decode the ConfigMap's data; ``ValueError`` (or ``KeyError``/``TypeError``) if it is malformed."""
        sources = json.loads(data.get("instanceTypeSources", "{}"))
        nodes = json.loads(data["nodes"]) if "nodes" in data else None
        return cls(
            version=data["version"],
            observed_at=datetime.fromisoformat(data["observedAt"].replace("Z", "+00:00")),
            checks=tuple(
                ExtensionCheck(str(c["name"]), bool(c["ok"]), str(c["message"])) for c in json.loads(data["checks"])
            ),
            training_enabled=data.get("trainingEnabled") == "true",
            inference_enabled=data.get("inferenceEnabled") == "true",
            nodes=NodeSummary(int(nodes["count"]), int(nodes["ready"]), int(nodes["gpuNodes"]), int(nodes["gpus"]))
            if nodes
            else None,
            instance_types=tuple(
                InstanceTypeInfo.from_arm(name, body, built_in=sources.get(name) == "built-in")
                for name, body in json.loads(data.get("instanceTypes", "{}")).items()
            ),
        )


# --- health -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionHealth:
    """The verdict on one cluster's extension: healthy, or not with a ``reason`` that says what to do."""

    healthy: bool
    reason: str | None
    installed: bool
    heartbeat_age_s: float | None = None
    holder: str | None = None
    status: StatusReport | None = None

    @property
    def training_enabled(self) -> bool | None:
        return self.status.training_enabled if self.status else None

    @property
    def instance_types(self) -> tuple[InstanceTypeInfo, ...]:
        return self.status.instance_types if self.status else ()


def describe_age(seconds: float) -> str:
    """``"45 s"``, ``"2 min"``, ``"3 h"``: how old a heartbeat is, for messages."""
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"


def _start_hint(mode: str | None, namespace: str) -> str:
    if mode == "local-process":
        return "start it with `tether agent extension --kubeconfig <operator kubeconfig>`"
    return f"check Deployment {namespace}/{m.DEPLOYMENT_NAME} and its pod's logs"


async def read_health(
    client: AsyncClient,
    namespace: str = m.DEFAULT_NAMESPACE,
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> ExtensionHealth:
    """Judge the extension from its settings ConfigMap, the operator's heartbeat Lease and status ConfigMap."""
    settings = await get_or_none(client, ConfigMap, m.CONFIG_MAP_NAME, namespace=namespace)
    if settings is None:
        return ExtensionHealth(
            healthy=False,
            installed=False,
            reason=f"the ML extension is not installed in namespace {namespace} "
            f"(no ConfigMap {namespace}/{m.CONFIG_MAP_NAME}): install it first",
        )
    mode = (settings.data or {}).get("operatorMode")
    hint = _start_hint(mode, namespace)
    lease = await get_or_none(client, Lease, m.HEARTBEAT_LEASE_NAME, namespace=namespace)
    renew = lease.spec.renewTime if lease is not None and lease.spec is not None else None
    if renew is None:
        return ExtensionHealth(
            healthy=False,
            installed=True,
            reason=f"no heartbeat: the operator never started (no Lease {namespace}/{m.HEARTBEAT_LEASE_NAME}); {hint}",
        )
    now = datetime.now(UTC)
    age = max(0.0, (now - renew).total_seconds())
    holder = lease.spec.holderIdentity or None
    common: dict[str, Any] = {"installed": True, "heartbeat_age_s": age, "holder": holder}
    if holder is None:
        reason = f"the operator stopped {describe_age(age)} ago (it released its heartbeat); {hint}"
        return ExtensionHealth(healthy=False, reason=reason, **common)
    if age > stale_after_s:
        reason = f"operator heartbeat is {describe_age(age)} old: is the tether-extension operator running? ({hint})"
        return ExtensionHealth(healthy=False, reason=reason, **common)
    status_map = await get_or_none(client, ConfigMap, m.STATUS_CONFIG_MAP_NAME, namespace=namespace)
    if status_map is None:
        reason = f"the operator has not reported its status yet (no ConfigMap {namespace}/{m.STATUS_CONFIG_MAP_NAME})"
        return ExtensionHealth(healthy=False, reason=reason, **common)
    try:
        report = StatusReport.from_data(status_map.data or {})
    except (KeyError, TypeError, ValueError) as e:
        reason = f"the operator's status report cannot be read ({type(e).__name__}: {e}); is the operator up to date?"
        return ExtensionHealth(healthy=False, reason=reason, **common)
    common["status"] = report
    # The operator writes its report and then renews the heartbeat, so the report is always a pass's
    # writes older than the heartbeat. Judged against "now", a dead operator's report would go stale
    # first and read as "report stale, heartbeat fresh"; judged against the heartbeat, it says so only
    # when something renewed the heartbeat without reporting.
    report_lag = max(0.0, (renew - report.observed_at).total_seconds())
    if report_lag > stale_after_s:
        reason = (
            f"the operator's status report is {describe_age(report_lag)} older than its heartbeat: "
            "something renews the heartbeat without reporting; is another or an older operator running?"
        )
        return ExtensionHealth(healthy=False, reason=reason, **common)
    failed = [c for c in report.checks if not c.ok]
    if failed:
        reason = "extension checks failed: " + "; ".join(f"{c.name}: {c.message}" for c in failed)
        return ExtensionHealth(healthy=False, reason=reason, **common)
    return ExtensionHealth(healthy=True, reason=None, **common)


__all__ = [
    "BUILT_IN_DEFAULT",
    "DEFAULT_STALE_AFTER_S",
    "STATUS_SCHEMA_VERSION",
    "ExtensionCheck",
    "ExtensionHealth",
    "InstanceTypeInfo",
    "NodeSummary",
    "StatusReport",
    "describe_age",
    "merge_instance_types",
    "read_health",
    "read_instance_types",
]
