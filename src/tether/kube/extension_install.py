"""Install, inspect and remove the ML extension in one cluster, through any lightkube ``AsyncClient``.

The control plane's extension reconciler calls ``install``/``uninstall`` with its cluster client (direct
or through the relay: the same client either way) and ``read_health``/``read_instance_types`` to decide
whether a compute may attach. ``operator_kubeconfig`` gives a local-process operator the credentials of
its own least-privilege ServiceAccount. The status ConfigMap the operator writes is decoded here
(:class:`StatusReport`); docs/ml-extension.md states its keys.

Every Kubernetes failure leaves this module as a ``tether.errors`` type chained with ``from e``:
``Unavailable`` (code ``ClusterNotReachable``) when retrying may help, otherwise ``InvalidRequest``,
``NotFound``, ``Conflict`` or ``Internal`` (``ClusterUnauthorized`` for 401/403); ``DeadlineExceeded``
when CRDs or the namespace do not settle in time.

Hazards: ``install`` uses server-side apply with ``force=True`` (it takes over fields another manager set
on these objects); ``uninstall(delete_crds=True)`` deletes every InstanceType and TetherJob in the
cluster; heartbeat freshness compares the operator's clock with the caller's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
import yaml
from lightkube import AsyncClient
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import DaemonSet, Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Namespace, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding, Role, RoleBinding

from tether.errors import (
    Conflict,
    DeadlineExceeded,
    Internal,
    InvalidRequest,
    NotFound,
    TetherError,
    Unavailable,
)
from tether.kube import extension_manifests as m

log = logging.getLogger(__name__)

FIELD_MANAGER = "tether"
DEFAULT_STALE_AFTER_S = 30.0
STATUS_SCHEMA_VERSION = "1"

InstanceType = create_global_resource(
    m.INSTANCE_TYPE_GROUP, m.INSTANCE_TYPE_VERSION, m.INSTANCE_TYPE_KIND, m.INSTANCE_TYPE_PLURAL
)
TetherJob = create_namespaced_resource(m.JOB_GROUP, m.JOB_VERSION, m.JOB_KIND, m.JOB_PLURAL)

KUBE_ERRORS = (httpx2.HTTPError,)
"""What a lightkube call raises (``ApiError`` is an ``httpx2.HTTPStatusError``); pass it to ``kube_error``."""


# --- errors -------------------------------------------------------------------------------------------


def kube_error(error: Exception, *, doing: str) -> TetherError:
    """Translate a lightkube/httpx2 failure while ``doing`` something into Tether's error hierarchy."""
    if isinstance(error, ApiError):
        code, text = error.status.code or 0, error.status.message or str(error)
        message = f"{doing}: the Kubernetes API server answered {code}: {text}"
        if code in (401, 403):
            return Internal(
                f"{message}. The cluster credentials lack a permission the ML extension needs.",
                code="ClusterUnauthorized",
            )
        if code == 404:
            return NotFound(message)
        if code == 409:
            return Conflict(message)
        if code in (400, 422):
            return InvalidRequest(message)
        if code in (408, 429) or code >= 500:
            return Unavailable(f"{message}. Retry later.", code="ClusterNotReachable")
        return Internal(message)
    if isinstance(error, httpx2.TransportError):
        return Unavailable(
            f"{doing}: the Kubernetes API server cannot be reached ({type(error).__name__}: {error}). Retry later.",
            code="ClusterNotReachable",
        )
    return Internal(f"{doing}: {type(error).__name__}: {error}")


@asynccontextmanager
async def _kube(doing: str) -> AsyncIterator[None]:
    try:
        yield
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=doing) from e


def _is_not_found(error: httpx2.HTTPError) -> bool:
    return isinstance(error, ApiError) and error.status.code == 404


async def _get_or_none(client: AsyncClient, res: Any, name: str, *, namespace: str | None = None) -> Any:
    where = f"{namespace}/{name}" if namespace else name
    async with _kube(f"reading {res.__name__} {where}"):
        try:
            return await client.get(res, name, namespace=namespace)
        except ApiError as e:
            if e.status.code == 404:
                return None
            raise


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
    custom: list[InstanceTypeInfo] = []
    try:
        async for obj in client.list(InstanceType):
            name = obj.metadata.name if obj.metadata else None
            try:
                custom.append(InstanceTypeInfo.from_arm(str(name), obj.get("spec") or {}))
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                log.warning("skipping malformed InstanceType %s: %s", name, e)
    except KUBE_ERRORS as e:
        if _is_not_found(e):
            raise NotFound(
                f"The InstanceType CRD ({m.INSTANCE_TYPES_CRD_NAME}) is not installed: install the ML extension.",
                code="ExtensionNotInstalled",
            ) from e
        raise kube_error(e, doing="listing InstanceTypes") from e
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
    settings = await _get_or_none(client, ConfigMap, m.CONFIG_MAP_NAME, namespace=namespace)
    if settings is None:
        return ExtensionHealth(
            healthy=False,
            installed=False,
            reason=f"the ML extension is not installed in namespace {namespace} "
            f"(no ConfigMap {namespace}/{m.CONFIG_MAP_NAME}): install it first",
        )
    mode = (settings.data or {}).get("operatorMode")
    hint = _start_hint(mode, namespace)
    lease = await _get_or_none(client, Lease, m.HEARTBEAT_LEASE_NAME, namespace=namespace)
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
    status_map = await _get_or_none(client, ConfigMap, m.STATUS_CONFIG_MAP_NAME, namespace=namespace)
    if status_map is None:
        reason = f"the operator has not reported its status yet (no ConfigMap {namespace}/{m.STATUS_CONFIG_MAP_NAME})"
        return ExtensionHealth(healthy=False, reason=reason, **common)
    try:
        report = StatusReport.from_data(status_map.data or {})
    except (KeyError, TypeError, ValueError) as e:
        reason = f"the operator's status report cannot be read ({type(e).__name__}: {e}); is the operator up to date?"
        return ExtensionHealth(healthy=False, reason=reason, **common)
    common["status"] = report
    report_age = max(0.0, (now - report.observed_at).total_seconds())
    if report_age > stale_after_s:
        reason = f"the operator's status report is {describe_age(report_age)} old although its heartbeat is fresh"
        return ExtensionHealth(healthy=False, reason=reason, **common)
    failed = [c for c in report.checks if not c.ok]
    if failed:
        reason = "extension checks failed: " + "; ".join(f"{c.name}: {c.message}" for c in failed)
        return ExtensionHealth(healthy=False, reason=reason, **common)
    return ExtensionHealth(healthy=True, reason=None, **common)


# --- install / uninstall ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedObject:
    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True)
class InstallResult:
    namespace: str
    version: str
    operator_mode: str
    applied: tuple[AppliedObject, ...]
    removed: tuple[AppliedObject, ...] = ()


def _ref(obj: Mapping[str, Any]) -> AppliedObject:
    return AppliedObject(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))


async def _apply(client: AsyncClient, obj: Mapping[str, Any]) -> AppliedObject:
    ref = _ref(obj)
    async with _kube(f"applying {ref.kind} {ref.name}"):
        await client.apply(from_dict(dict(obj)), field_manager=FIELD_MANAGER, force=True)
    return ref


async def _delete(client: AsyncClient, ref: AppliedObject) -> bool:
    """Delete one object; False if it was already gone."""
    res = _RESOURCES[ref.kind]
    async with _kube(f"deleting {ref.kind} {ref.name}"):
        try:
            await client.delete(res, ref.name, namespace=ref.namespace)
        except ApiError as e:
            if e.status.code == 404:
                return False
            raise
    return True


_RESOURCES: dict[str, Any] = {
    r.__name__: r
    for r in (
        Namespace,
        ServiceAccount,
        ConfigMap,
        CustomResourceDefinition,
        ClusterRole,
        ClusterRoleBinding,
        Role,
        RoleBinding,
        Deployment,
        DaemonSet,
        Lease,
    )
}


async def _wait_established(client: AsyncClient, names: Iterable[str], *, deadline: float) -> None:
    pending = set(names)
    while pending:
        for name in sorted(pending):
            crd = await _get_or_none(client, CustomResourceDefinition, name)
            conditions = {c.type: c for c in (crd.status.conditions or [])} if crd and crd.status else {}
            names_accepted = conditions.get("NamesAccepted")
            if names_accepted is not None and names_accepted.status == "False":
                raise Conflict(f"CRD {name} cannot be served: {names_accepted.message}", code="ExtensionInstallFailed")
            established = conditions.get("Established")
            if established is not None and established.status == "True":
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise DeadlineExceeded(f"CRDs not Established in time: {', '.join(sorted(pending))}. Retry the install.")
        if pending:
            await asyncio.sleep(0.2)


async def _check_not_terminating(client: AsyncClient, res: Any, name: str, what: str) -> Any:
    """The object (or None); ``Unavailable`` while it is being deleted."""
    obj = await _get_or_none(client, res, name)
    if obj is not None and obj.metadata is not None and obj.metadata.deletionTimestamp is not None:
        raise Unavailable(
            f"{what} is still being deleted (a previous uninstall); retry the install when it is gone.",
            code="ExtensionUninstallInProgress",
        )
    return obj


def _created_by_tether(obj: Any) -> bool:
    return obj.metadata is not None and (obj.metadata.labels or {}).get(m.MANAGED_BY_LABEL) == "tether"


async def install(client: AsyncClient, config: m.ExtensionConfig, *, timeout_s: float = 60.0) -> InstallResult:
    """Apply every object of ``render(config)`` (idempotent); wait until the CRDs are Established.

    A release namespace that exists without Tether's label is used as it is (and ``uninstall`` keeps it).
    """
    deadline = time.monotonic() + timeout_s
    objects = m.render(config)
    existing = await _check_not_terminating(client, Namespace, config.namespace, f"Namespace {config.namespace}")
    for crd_name in m.CRD_NAMES:
        await _check_not_terminating(client, CustomResourceDefinition, crd_name, f"CRD {crd_name}")
    if existing is not None and not _created_by_tether(existing):
        objects = [o for o in objects if o["kind"] != "Namespace"]
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    namespace = [o for o in objects if o["kind"] == "Namespace"]
    rest = [o for o in objects if o not in crds and o not in namespace]
    applied = [await _apply(client, o) for o in namespace + crds]
    await _wait_established(client, m.CRD_NAMES, deadline=deadline)
    applied += [await _apply(client, o) for o in rest]
    # Optional objects a previous install may have left: an in-cluster operator beside a local one would
    # write the same heartbeat.
    removed = []
    optional = [
        AppliedObject("Deployment", m.DEPLOYMENT_NAME, config.namespace),
        AppliedObject("DaemonSet", m.NVIDIA_DEVICE_PLUGIN_NAME, config.namespace),
    ]
    for ref in optional:
        if ref not in applied and await _delete(client, ref):
            removed.append(ref)
    return InstallResult(
        namespace=config.namespace,
        version=config.version,
        operator_mode=config.operator_mode,
        applied=tuple(applied),
        removed=tuple(removed),
    )


async def _wait_gone(client: AsyncClient, res: Any, name: str, *, deadline: float) -> None:
    while await _get_or_none(client, res, name) is not None:
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"{res.__name__} {name} is still being deleted; retry the uninstall later.")
        await asyncio.sleep(0.25)


async def uninstall(
    client: AsyncClient,
    config: m.ExtensionConfig,
    *,
    delete_crds: bool = False,
    timeout_s: float = 60.0,
) -> list[AppliedObject]:
    """Delete what ``install`` created (tolerant: absent objects are fine) and wait until it is gone.

    The CRDs stay unless ``delete_crds`` (deleting them deletes every InstanceType and TetherJob). The
    namespace is deleted only if the installation created it (it carries Tether's managed-by label).
    """
    deadline = time.monotonic() + timeout_s
    full = m.render(
        m.ExtensionConfig(
            namespace=config.namespace,
            enable_training=True,
            in_cluster=True,
            install_nvidia_device_plugin=True,
        )
    )
    refs = [_ref(o) for o in reversed(full)]
    refs.insert(0, AppliedObject("ConfigMap", m.STATUS_CONFIG_MAP_NAME, config.namespace))
    refs.insert(0, AppliedObject("Lease", m.HEARTBEAT_LEASE_NAME, config.namespace))
    ns = await _get_or_none(client, Namespace, config.namespace)
    ours = ns is not None and _created_by_tether(ns)
    deleted: list[AppliedObject] = []
    for ref in refs:
        if ref.kind == "CustomResourceDefinition" and not delete_crds:
            continue
        if ref.kind == "Namespace" and not ours:
            continue
        if await _delete(client, ref):
            deleted.append(ref)
    if ours:
        await _wait_gone(client, Namespace, config.namespace, deadline=deadline)
    if delete_crds:
        for name in m.CRD_NAMES:
            await _wait_gone(client, CustomResourceDefinition, name, deadline=deadline)
    return deleted


# --- the operator's own credentials -------------------------------------------------------------------


async def operator_kubeconfig(
    client: AsyncClient,
    *,
    server_url: str,
    ca_pem: str,
    namespace: str = m.DEFAULT_NAMESPACE,
    expiration_s: int = 3600,
) -> str:
    """A kubeconfig (YAML) for the operator's ServiceAccount, with a TokenRequest-issued token.

    For the local-process operator: it then runs with its own least-privilege identity, not the
    caller's. The token is not renewed; it expires after ``expiration_s`` (at least 600).
    """
    request = ServiceAccount.Token(
        metadata=ObjectMeta(name=m.SERVICE_ACCOUNT_NAME, namespace=namespace),
        spec=TokenRequestSpec(audiences=[], expirationSeconds=max(600, expiration_s)),
    )
    async with _kube(f"requesting a token for ServiceAccount {namespace}/{m.SERVICE_ACCOUNT_NAME}"):
        issued = await client.create(request, m.SERVICE_ACCOUNT_NAME, namespace=namespace)
    if issued.status is None or not issued.status.token:
        raise Internal(f"The TokenRequest for {namespace}/{m.SERVICE_ACCOUNT_NAME} returned no token.")
    user = f"{m.SERVICE_ACCOUNT_NAME}@{namespace}"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cluster",
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": issued.status.token}}],
        "contexts": [{"name": user, "context": {"cluster": "cluster", "user": user, "namespace": namespace}}],
        "current-context": user,
    }
    return yaml.safe_dump(document, sort_keys=False)


__all__ = [
    "BUILT_IN_DEFAULT",
    "DEFAULT_STALE_AFTER_S",
    "KUBE_ERRORS",
    "AppliedObject",
    "ExtensionCheck",
    "ExtensionHealth",
    "InstallResult",
    "InstanceType",
    "InstanceTypeInfo",
    "NodeSummary",
    "StatusReport",
    "TetherJob",
    "describe_age",
    "install",
    "kube_error",
    "merge_instance_types",
    "operator_kubeconfig",
    "read_health",
    "read_instance_types",
    "uninstall",
]
