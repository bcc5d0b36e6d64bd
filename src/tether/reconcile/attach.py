"""The attach pipeline, acting as the workspace identity: the checks an attach makes, in order.

cluster (Reader) → ML extension, Succeeded (Kubernetes Extension Contributor; else ExtensionNotInstalled)
→ access: managed clusters through the admin credential (Cluster Admin; else InternalServerError),
connected clusters through their relay (Azure Relay Owner; else AuthorizationFailed) and a live tunnel
→ the cluster answers (ClusterNotReachable) → its instance types. Every failure names the principal,
the missing role, the scope and the command that fixes it (S11, B2). Each network step has its own
deadline. ``--dry-run`` runs the same checks, collects them all, and adds warnings the attach itself
does not act on (training disabled, namespace missing).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tether.authz.service import Authorizer
from tether.domain import resource_types as rt
from tether.domain.attach import Requirement, attach_requirements, is_connected, relay_ids
from tether.domain.ids import ResourceId
from tether.domain.principals import Caller
from tether.domain.states import ProvisioningState
from tether.errors import DeadlineExceeded, Internal, NotFound, TetherError, Unavailable
from tether.identity.managed import acting_as
from tether.kube.access import ClusterAccess
from tether.kube.extension_status import ExtensionHealth, InstanceTypeInfo, read_health, read_instance_types
from tether.kube.instance_types import ensure_instance_types
from tether.kube.probe import namespace_exists, ping
from tether.providers.extensions import AZUREML_EXTENSION_TYPE
from tether.store import Session, resources
from tether.store.tables import ResourceRow

_CODE_CLASS: dict[str, type[TetherError]] = {"InternalServerError": Internal}


@dataclass(frozen=True)
class AttachTarget:
    """What the pipeline knows before it starts, read in one short transaction."""

    compute_id: ResourceId
    workspace_name: str
    caller: Caller
    cluster_id: ResourceId
    namespace: str
    cluster_exists: bool
    extension: ResourceRow | None
    relay_exists: bool


@dataclass
class AttachFacts:
    instance_types: dict[str, Any] = field(default_factory=dict)
    extension_principal_id: str | None = None
    release_train: str = "stable"
    health: ExtensionHealth | None = None


@dataclass(frozen=True)
class Check:
    step: str
    status: str  # "pass" | "fail" | "warn"
    message: str
    code: str | None = None
    fix: str | None = None


async def load_target(
    session: Session, *, compute_id: ResourceId, cluster_id: ResourceId, namespace: str
) -> AttachTarget:
    workspace_id = compute_id.parent
    assert workspace_id is not None
    workspace = await resources.get(session, workspace_id)
    if workspace is None:
        raise NotFound(f"Workspace '{workspace_id.name}' no longer exists.", code="WorkspaceNotFound")
    caller = await acting_as(session, workspace)
    extensions = await resources.list_children(session, cluster_id, rt.EXTENSIONS)
    ml = [e for e in extensions if e.properties.get("extensionType", "").lower() == AZUREML_EXTENSION_TYPE.lower()]
    relay_exists = False
    if is_connected(cluster_id):
        relay_namespace, _, _ = relay_ids(cluster_id)
        relay_exists = await resources.get(session, relay_namespace) is not None
    return AttachTarget(
        compute_id=compute_id,
        workspace_name=workspace.name,
        caller=caller,
        cluster_id=cluster_id,
        namespace=namespace,
        cluster_exists=await resources.get(session, cluster_id) is not None,
        extension=ml[0] if ml else None,
        relay_exists=relay_exists,
    )


def _who(target: AttachTarget) -> str:
    return f"the identity of workspace '{target.workspace_name}' (principal {target.caller.object_id})"


def _missing_role(target: AttachTarget, requirement: Requirement) -> TetherError:
    prefix = {"ExtensionNotInstalled": "Extension not installed: ", "InternalServerError": "Internal server error: "}
    message = (
        f"{prefix.get(requirement.error_code, '')}{_who(target)} lacks the role '{requirement.role.name}' on "
        f"'{requirement.scope}', which it needs because {requirement.why}. "
        f"Fix: {requirement.grant_command(target.caller.object_id)}"
    )
    cls = _CODE_CLASS.get(requirement.error_code, TetherError)
    return cls(message, code=requirement.error_code, target=requirement.step)


async def _require(authz: Authorizer, target: AttachTarget, requirement: Requirement) -> None:
    if not (await authz.decide(target.caller.object_id, requirement.action, requirement.scope)).allowed:
        raise _missing_role(target, requirement)


def _step_error(step: str, message: str, *, code: str, fix: str | None = None) -> TetherError:
    return TetherError(message + (f" Fix: {fix}" if fix else ""), code=code, target=step)


def _install_command(target: AttachTarget) -> str:
    return (
        f"tether k8s-extension create --name azureml --extension-type {AZUREML_EXTENSION_TYPE} --config "
        f"enableTraining=True --cluster-type {target.cluster_id.full_type.split('/')[1]} --cluster-name "
        f"{target.cluster_id.name} --resource-group {target.cluster_id.resource_group} --scope cluster"
    )


def check_cluster_registered(target: AttachTarget) -> None:
    if not target.cluster_exists:
        kind = "tether connectedk8s connect" if is_connected(target.cluster_id) else "tether aks create"
        raise _step_error(
            "cluster",
            f"The cluster '{target.cluster_id}' is not registered in Tether.",
            code="ClusterNotFound",
            fix=f"{kind} -g {target.cluster_id.resource_group} -n {target.cluster_id.name} ...",
        )


def check_extension_installed(target: AttachTarget) -> None:
    extension = target.extension
    if extension is None:
        raise _step_error(
            "extension",
            f"Extension not installed: cluster '{target.cluster_id.name}' has no {AZUREML_EXTENSION_TYPE} extension.",
            code="ExtensionNotInstalled",
            fix=_install_command(target),
        )
    if extension.provisioning_state != ProvisioningState.SUCCEEDED.value:
        raise _step_error(
            "extension",
            f"Extension not installed: the ML extension '{extension.name}' on cluster "
            f"'{target.cluster_id.name}' is {extension.provisioning_state}, not Succeeded.",
            code="ExtensionNotInstalled",
            fix=f"tether k8s-extension show --name {extension.name} ...",
        )


def check_relay_exists(target: AttachTarget) -> None:
    if is_connected(target.cluster_id) and not target.relay_exists:
        namespace, _, _ = relay_ids(target.cluster_id)
        raise _step_error(
            "relay",
            f"The relay '{namespace}' of connected cluster '{target.cluster_id.name}' does not exist; "
            "it is created with the ML extension.",
            code="RelayNotFound",
            fix=_install_command(target),
        )


async def check_permissions(authz: Authorizer, target: AttachTarget) -> None:
    """Every check that needs no network, in the attach's order; raises the first failure."""
    requirements = {r.step: r for r in attach_requirements(target.cluster_id)}
    check_cluster_registered(target)
    await _require(authz, target, requirements["cluster"])
    await _require(authz, target, requirements["extension"])
    check_extension_installed(target)
    await _require(authz, target, requirements["access"])
    if "relay" in requirements:
        check_relay_exists(target)
        await _require(authz, target, requirements["relay"])


async def inspect_cluster(
    access: ClusterAccess,
    target: AttachTarget,
    *,
    deadline_s: float,
    create_instance_types: dict[str, Any] | None = None,
) -> AttachFacts:
    """Reach the cluster (direct or relay) and read what the compute reports: instance types, extension health.

    ``create_instance_types`` (the attach body's, never a dry run's): created where missing
    (``kube.instance_types``); the compute then offers exactly those, plus the built-in default."""
    wanted = [InstanceTypeInfo.from_arm(n, b) for n, b in (create_instance_types or {}).items()]
    connected = is_connected(target.cluster_id)
    try:
        async with asyncio.timeout(deadline_s):
            async with access.connect(target.cluster_id.key, connected=connected, timeout_s=deadline_s) as connection:
                await ping(connection)
                types = await read_instance_types(connection.kube)
                if wanted:
                    await ensure_instance_types(connection.kube, wanted, present=types)
                    named = {w.name for w in wanted}
                    types = [*(t for t in types if t.built_in and t.name not in named), *wanted]
                health = await read_health(connection.kube)
    except TimeoutError as e:
        raise DeadlineExceeded(
            f"The cluster '{target.cluster_id.name}' did not answer within {deadline_s:.0f} s.",
            code="ClusterNotReachable",
            target="access",
        ) from e
    except Unavailable as e:
        offline = " (the connected cluster is offline: is its agent running?)" if connected else ""
        raise Unavailable(
            f"The cluster '{target.cluster_id.name}' cannot be reached{offline}: {e.message}",
            code="ClusterNotReachable",
            target="access",
        ) from e
    facts = AttachFacts(instance_types={t.name: t.to_arm() for t in types}, health=health)
    if target.extension is not None:
        facts.extension_principal_id = (target.extension.identity or {}).get("principalId")
        facts.release_train = target.extension.properties.get("releaseTrain") or "stable"
    return facts


async def preflight(
    authz: Authorizer, access: ClusterAccess, target: AttachTarget, *, grantable: set[str], deadline_s: float
) -> list[Check]:
    """Every attach check as pass/fail/warn with its fix, creating nothing (B1).

    ``grantable`` holds the steps whose missing role the attach would grant itself (S10).
    """
    try:
        check_cluster_registered(target)
    except TetherError as e:
        return [Check("cluster", "fail", e.message, e.code)]
    checks: list[Check] = []
    for requirement in attach_requirements(target.cluster_id):
        allowed = (await authz.decide(target.caller.object_id, requirement.action, requirement.scope)).allowed
        if allowed:
            checks.append(Check(requirement.step, "pass", f"holds '{requirement.role.name}' on {requirement.scope}"))
        elif requirement.step in grantable:
            checks.append(
                Check(
                    requirement.step,
                    "warn",
                    f"lacks '{requirement.role.name}' on {requirement.scope}; "
                    "the attach will grant it (system-assigned workspace identity, S10)",
                )
            )
        else:
            error = _missing_role(target, requirement)
            checks.append(
                Check(
                    requirement.step,
                    "fail",
                    error.message,
                    error.code,
                    requirement.grant_command(target.caller.object_id),
                )
            )
    # Without the access (or relay) role the attach could not reach the cluster, whatever the server can do.
    reachable = not any(c.status == "fail" and c.step in ("access", "relay") for c in checks)
    for check in (check_extension_installed, check_relay_exists):
        try:
            check(target)
        except TetherError as e:
            checks.append(Check(e.target or "extension", "fail", e.message, e.code))
            reachable = False
    if reachable:
        checks.extend(await _inspect_checks(access, target, deadline_s=deadline_s))
    return checks


async def _inspect_checks(access: ClusterAccess, target: AttachTarget, *, deadline_s: float) -> list[Check]:
    try:
        facts = await inspect_cluster(access, target, deadline_s=deadline_s)
        async with access.connect(target.cluster_id.key, connected=is_connected(target.cluster_id)) as connection:
            has_namespace = await namespace_exists(connection, target.namespace)
    except TetherError as e:
        return [Check("access", "fail", e.message, e.code)]
    checks = [
        Check("access", "pass", f"the cluster answers; instance types: {', '.join(sorted(facts.instance_types))}")
    ]
    health = facts.health
    if health is not None and not health.training_enabled:
        checks.append(
            Check(
                "extension",
                "warn",
                "the ML extension has training disabled: jobs will fail with E45004",
                fix="tether k8s-extension update ... --config enableTraining=True",
            )
        )
    if health is not None and not health.healthy:
        checks.append(Check("extension", "warn", f"the ML extension's operator is unhealthy: {health.reason}"))
    if has_namespace:
        checks.append(Check("namespace", "pass", f"namespace '{target.namespace}' exists"))
    else:
        checks.append(
            Check(
                "namespace",
                "warn",
                f"namespace '{target.namespace}' does not exist in the cluster: "
                "the attach does not create it (S7) and jobs will fail with NamespaceNotFound",
                fix=f"kubectl create namespace {target.namespace}",
            )
        )
    return checks
