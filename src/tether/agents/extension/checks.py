"""The operator's self-checks: one pass over the cluster that yields the status report it publishes.

Each check asks the API server with the operator's own credentials, so a missing RBAC rule shows up as
a failed check (with the API server's words) instead of a crash. ``collect_status`` never raises for a
failing check; only programming errors escape.

Hazards: every pass lists all nodes and all InstanceTypes (cheap at the scale of an ML cluster, but
not free on thousands of nodes); ``SelfSubjectAccessReview`` answers what RBAC allows, not whether a
watch would actually succeed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lightkube import AsyncClient
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.core_v1 import ConfigMap, Node

from tether.errors import TetherError
from tether.kube import extension_manifests as m
from tether.kube.errors import KUBE_ERRORS, kube_error
from tether.kube.extension_status import (
    BUILT_IN_DEFAULT,
    ExtensionCheck,
    InstanceTypeInfo,
    NodeSummary,
    StatusReport,
    read_instance_types,
)


@dataclass(frozen=True)
class OperatorSettings:
    """The settings ConfigMap as the operator reads it each pass."""

    enable_training: bool
    enable_inference: bool
    node_selector: dict[str, str]


async def _guard(doing: str, call: Callable[[], Awaitable[ExtensionCheck]]) -> ExtensionCheck:
    try:
        return await call()
    except KUBE_ERRORS as e:
        return ExtensionCheck(doing, False, kube_error(e, doing=f"check {doing}").message)
    except TetherError as e:
        return ExtensionCheck(doing, False, e.message)


async def read_settings(client: AsyncClient, namespace: str) -> OperatorSettings:
    return settings_from(await client.get(ConfigMap, m.CONFIG_MAP_NAME, namespace=namespace))


def settings_from(config_map: ConfigMap) -> OperatorSettings:
    """The settings ConfigMap (``m.CONFIG_MAP_NAME``) as the operator uses it."""
    data = config_map.data or {}
    selector = json.loads(data.get("nodeSelector") or "{}")
    return OperatorSettings(
        enable_training=data.get("enableTraining") == "true",
        enable_inference=data.get("enableInference") == "true",
        node_selector={str(k): str(v) for k, v in selector.items()},
    )


async def _check_crds(client: AsyncClient) -> ExtensionCheck:
    problems = []
    for name in m.CRD_NAMES:
        crd = await client.get(CustomResourceDefinition, name)
        conditions = {c.type: c.status for c in (crd.status.conditions or [])} if crd.status else {}
        if conditions.get("Established") != "True":
            problems.append(f"{name} is not Established")
    if problems:
        return ExtensionCheck("crds", False, "; ".join(problems))
    return ExtensionCheck("crds", True, f"{', '.join(m.CRD_NAMES)} Established")


def _whole(quantity: object) -> int:
    try:
        return max(0, int(str(quantity)))
    except ValueError:
        return 0  # GPU counts are whole numbers; anything else is not a usable GPU


def summarize_nodes(nodes: list[Node]) -> NodeSummary:
    ready = gpu_nodes = gpus = 0
    for node in nodes:
        status = node.status
        if status is None:
            continue
        if any(c.type == "Ready" and c.status == "True" for c in status.conditions or []):
            ready += 1
        count = _whole((status.allocatable or status.capacity or {}).get(m.GPU_RESOURCE, "0"))
        if count > 0:
            gpu_nodes += 1
            gpus += count
    return NodeSummary(count=len(nodes), ready=ready, gpu_nodes=gpu_nodes, gpus=gpus)


async def _can(client: AsyncClient, *, verb: str, group: str, resource: str, subresource: str | None = None) -> bool:
    review = SelfSubjectAccessReview(
        spec=SelfSubjectAccessReviewSpec(
            resourceAttributes=ResourceAttributes(verb=verb, group=group, resource=resource, subresource=subresource)
        )
    )
    answer = await client.create(review)
    return bool(answer.status and answer.status.allowed)


async def _check_tether_jobs(client: AsyncClient) -> ExtensionCheck:
    missing = []
    if not await _can(client, verb="watch", group=m.JOB_GROUP, resource=m.JOB_PLURAL):
        missing.append("watch tetherjobs in all namespaces")
    if not await _can(client, verb="update", group=m.JOB_GROUP, resource=m.JOB_PLURAL, subresource="status"):
        missing.append("update tetherjobs/status")
    if missing:
        return ExtensionCheck(
            "tetherJobs",
            False,
            f"the operator's ServiceAccount may not {' or '.join(missing)}: reinstall the extension",
        )
    return ExtensionCheck("tetherJobs", True, "may watch TetherJobs in all namespaces and update their status")


async def collect_status(client: AsyncClient, *, namespace: str, version: str) -> StatusReport:
    """Run every check once and assemble the report (checks fail; this does not raise for them)."""
    settings: OperatorSettings | None = None
    nodes: NodeSummary | None = None
    instance_types: list[InstanceTypeInfo] = [BUILT_IN_DEFAULT]

    async def config_check() -> ExtensionCheck:
        nonlocal settings
        settings = await read_settings(client, namespace)
        features = f"training {'enabled' if settings.enable_training else 'disabled'}, inference " + (
            "enabled" if settings.enable_inference else "disabled"
        )
        return ExtensionCheck("config", True, f"{features}; node selector {settings.node_selector or 'none'}")

    async def nodes_check() -> ExtensionCheck:
        nonlocal nodes
        nodes = summarize_nodes([n async for n in client.list(Node)])
        if nodes.ready == 0:
            return ExtensionCheck("nodes", False, f"{nodes.count} nodes, none Ready: no job can be scheduled")
        return ExtensionCheck("nodes", True, f"{nodes.count} nodes ({nodes.ready} Ready), {nodes.gpu_nodes} with GPUs")

    async def instance_types_check() -> ExtensionCheck:
        nonlocal instance_types
        instance_types = await read_instance_types(client)
        return ExtensionCheck("instanceTypes", True, f"{len(instance_types)} instance types")

    checks = (
        await _guard("config", config_check),
        await _guard("crds", lambda: _check_crds(client)),
        await _guard("nodes", nodes_check),
        await _guard("tetherJobs", lambda: _check_tether_jobs(client)),
        await _guard("instanceTypes", instance_types_check),
    )
    return StatusReport(
        version=version,
        observed_at=datetime.now(UTC),
        checks=checks,
        training_enabled=bool(settings and settings.enable_training),
        inference_enabled=bool(settings and settings.enable_inference),
        nodes=nodes,
        instance_types=tuple(instance_types),
    )
