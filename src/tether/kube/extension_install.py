"""Install and remove the ML extension in one cluster, through any lightkube ``AsyncClient``.

The control plane's extension reconciler calls ``install``/``uninstall`` with its cluster client (direct
or through the relay: the same client either way). ``operator_kubeconfig`` gives a local-process
operator the credentials of its own least-privilege ServiceAccount. Reading the extension's health is
``tether.kube.extension_status``.

Kubernetes failures are raised as ``tether.errors`` types (see ``tether.kube.errors``);
``DeadlineExceeded`` when CRDs or the namespace do not settle in time.

Hazards: ``install`` uses server-side apply with ``force=True`` (it takes over fields another manager set
on these objects); ``uninstall(delete_crds=True)`` deletes every InstanceType and TetherJob in the
cluster.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from lightkube import AsyncClient
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import DaemonSet, Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Namespace, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding, Role, RoleBinding

from tether.errors import Conflict, DeadlineExceeded, Internal, Unavailable
from tether.kube import extension_manifests as m
from tether.kube.errors import get_or_none, kube_call

FIELD_MANAGER = "tether"


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
    async with kube_call(f"applying {ref.kind} {ref.name}"):
        await client.apply(from_dict(dict(obj)), field_manager=FIELD_MANAGER, force=True)
    return ref


async def _delete(client: AsyncClient, ref: AppliedObject) -> bool:
    """Delete one object; False if it was already gone."""
    res = _RESOURCES[ref.kind]
    async with kube_call(f"deleting {ref.kind} {ref.name}"):
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
            crd = await get_or_none(client, CustomResourceDefinition, name)
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
    obj = await get_or_none(client, res, name)
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
    while await get_or_none(client, res, name) is not None:
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
    ns = await get_or_none(client, Namespace, config.namespace)
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
    async with kube_call(f"requesting a token for ServiceAccount {namespace}/{m.SERVICE_ACCOUNT_NAME}"):
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
    "AppliedObject",
    "InstallResult",
    "install",
    "operator_kubeconfig",
    "uninstall",
]
