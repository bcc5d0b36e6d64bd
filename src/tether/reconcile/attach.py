"""What attaching a cluster does: the attach pipeline, run by the attach reconciler and by its preflight.

The pipeline is the ordered list :func:`attach_steps`, acting as the workspace identity:

1. ``cluster``: registered in Tether (else ClusterNotFound), and the identity holds Reader on it;
2. ``extension``: the identity holds Kubernetes Extension Contributor (else ExtensionNotInstalled),
   and the ML extension is installed and Succeeded;
3. ``access``: the identity holds Cluster Admin (else InternalServerError); for connected clusters,
   ``relay``: the relay exists and the identity holds Azure Relay Owner on it (else AuthorizationFailed);
4. ``access``: the cluster answers (direct or through the relay's tunnel; else ClusterNotReachable)
   and reports its instance types (the attach body's are created where missing) and the extension's
   health; each network step has its own deadline;
5. preflight only, warnings the attach does not act on: the extension's training flag and health,
   and whether the namespace exists (the attach never creates it, S7).

Two steps sit outside this module because of the layers (.importlinter: providers cannot import
reconcile): the automatic grants of S10 happen when the attach is requested
(``providers.compute_grants``, which also tells the preflight which roles it would grant), and the
compute identity is bound in the reconciler's lease-checked transaction (``reconcile.computes``).

:func:`attach` runs the steps and raises the first failure (:class:`AttachFailed`); :func:`preflight`
(``POST .../preflight``, ``--dry-run``, the Studio's Check) runs them creating nothing and collects
every check as pass/fail/warn with its fix (B1). Every failure names the principal, the missing role,
the scope and the command that fixes it (S11, B2). The requirements themselves are data in
``domain.attach``; reading the extension's status is ``kube.extension_status``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from tether.authz.service import Authorizer
from tether.domain import resource_types as rt
from tether.domain.attach import (
    AttachTarget,
    Check,
    ExtensionRecord,
    Preflight,
    Requirement,
    Status,
    attach_requirements,
    is_connected,
    missing_role,
    relay_ids,
)
from tether.domain.ids import ResourceId
from tether.domain.models.extensions import ClusterExtensionRecord
from tether.domain.principals import Caller
from tether.domain.states import ProvisioningState
from tether.errors import DeadlineExceeded, NotFound, TetherError, Unavailable
from tether.identity.managed import acting_as
from tether.kube.access import ClusterAccess
from tether.kube.extension_status import ExtensionHealth, InstanceTypeInfo, read_health, read_instance_types
from tether.kube.instance_types import ensure_instance_types
from tether.kube.probe import namespace_exists, ping
from tether.providers.compute_grants import grantable_steps
from tether.providers.extensions import AZUREML_EXTENSION_TYPE
from tether.store import Session, Store, resources


@dataclass
class AttachFacts:
    """What the cluster reported; the attach records it on the compute (all but the health)."""

    instance_types: dict[str, Any] = field(default_factory=dict)
    extension_principal_id: str | None = None
    release_train: str = "stable"
    health: ExtensionHealth | None = None


class AttachFailed(Exception):
    """A step failed; ``retryable`` when the cluster could not be reached (it may come back)."""

    def __init__(self, check: Check) -> None:
        assert check.error is not None
        super().__init__(check.error.message)
        self.error = check.error
        self.retryable = isinstance(check.error, Unavailable)


@dataclass
class AttachRun:
    """One run of the pipeline: what it acts on, in which mode, and what the cluster reported so far."""

    target: AttachTarget
    authz: Authorizer
    access: ClusterAccess
    deadline_s: float
    dry_run: bool
    grantable: frozenset[str] = frozenset()  # preflight: steps whose missing role the attach would grant
    create_instance_types: dict[str, Any] | None = None  # attach: the body's instance types
    facts: AttachFacts | None = None
    namespace_exists: bool | None = None  # looked up by the preflight only


class Group(IntEnum):
    """Where a step's checks appear in the preflight: the roles held, then the state in Tether, then the cluster."""

    ROLES = 0
    STATE = 1
    CLUSTER = 2


@dataclass(frozen=True)
class Step:
    """One attach step. A failed ``blocks_reach`` step keeps the preflight from dialling the cluster; a failed
    ``only_check_if_failed`` step is all the preflight answers."""

    name: str
    group: Group
    check: Callable[[AttachRun], Awaitable[list[Check]]]
    in_attach: bool = True
    blocks_reach: bool = True
    only_check_if_failed: bool = False


def attach_steps(cluster_id: ResourceId) -> list[Step]:
    """The attach, in order (the module docstring says what each step does)."""
    required = {r.step: r for r in attach_requirements(cluster_id)}
    steps = [
        Step("cluster", Group.STATE, cluster_registered, only_check_if_failed=True),
        # Without Reader or Extension Contributor the server can still reach the cluster for the preflight.
        Step("cluster", Group.ROLES, holds_role(required["cluster"]), blocks_reach=False),
        Step("extension", Group.ROLES, holds_role(required["extension"]), blocks_reach=False),
        Step("extension", Group.STATE, extension_installed),
        Step("access", Group.ROLES, holds_role(required["access"])),
    ]
    if "relay" in required:
        steps += [
            Step("relay", Group.STATE, relay_exists),
            Step("relay", Group.ROLES, holds_role(required["relay"])),
        ]
    return [
        *steps,
        Step("access", Group.CLUSTER, read_cluster),
        Step("extension", Group.CLUSTER, extension_warnings, in_attach=False),
        Step("namespace", Group.CLUSTER, namespace_warning, in_attach=False),
    ]


async def attach(
    authz: Authorizer,
    access: ClusterAccess,
    *,
    target: AttachTarget,
    deadline_s: float,
    create_instance_types: dict[str, Any] | None = None,
) -> AttachFacts:
    """Run every attach step; raise :class:`AttachFailed` with the first failure. Creates the body's
    instance types in the cluster (``kube.instance_types``); the compute then offers exactly those, plus
    the built-in default."""
    run = AttachRun(
        target, authz, access, deadline_s=deadline_s, dry_run=False, create_instance_types=create_instance_types
    )
    for step in attach_steps(target.cluster_id):
        if step.in_attach:
            for check in await step.check(run):
                if check.status is Status.FAIL:
                    raise AttachFailed(check)
    assert run.facts is not None
    return run.facts


async def preflight(
    store: Store,
    authz: Authorizer,
    *,
    access: ClusterAccess,
    requester: Caller,
    compute_id: ResourceId,
    cluster_id: ResourceId,
    namespace: str,
    deadline_s: float,
) -> Preflight:
    """Every attach check, as ``requester``'s attach would meet them, creating nothing (B1).

    A role the attach would grant itself (S10) is a warning; an unregistered cluster is the only check.
    """
    async with store.transaction() as session:
        target = await load_target(session, compute_id=compute_id, cluster_id=cluster_id, namespace=namespace)
    grantable = await grantable_steps(
        authz, requester=requester, workspace_identity=target.caller, cluster_id=cluster_id
    )
    run = AttachRun(target, authz, access, deadline_s=deadline_s, dry_run=True, grantable=grantable)
    by_group: dict[Group, list[Check]] = {group: [] for group in Group}
    reachable = True
    for step in attach_steps(cluster_id):
        if step.group is Group.CLUSTER and not reachable:
            continue
        checks = await step.check(run)
        failed = any(c.status is Status.FAIL for c in checks)
        if failed and step.only_check_if_failed:
            return Preflight(target.caller, checks)
        reachable = reachable and not (failed and step.blocks_reach)
        by_group[step.group].extend(checks)
    return Preflight(target.caller, [check for group in Group for check in by_group[group]])


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
    ml = [
        ExtensionRecord(
            name=e.name,
            provisioning_state=e.provisioning_state,
            principal_id=(e.identity or {}).get("principalId"),
            release_train=spec.release_train or "stable",
        )
        for e in extensions
        if (spec := resources.read_properties(e, ClusterExtensionRecord).spec).extension_type.lower()
        == AZUREML_EXTENSION_TYPE.lower()
    ]
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


# --- the steps ----------------------------------------------------------------------------------------


def holds_role(requirement: Requirement) -> Callable[[AttachRun], Awaitable[list[Check]]]:
    """The step that checks the workspace identity holds ``requirement``'s role on its scope."""
    role, scope, step = requirement.role.name, requirement.scope, requirement.step

    async def check(run: AttachRun) -> list[Check]:
        principal_id = run.target.caller.object_id
        if (await run.authz.decide(principal_id, requirement.action, scope)).allowed:
            return [Check(step, Status.PASS, f"holds '{role}' on {scope}")]
        if step in run.grantable:
            message = f"lacks '{role}' on {scope}; the attach will grant it (system-assigned workspace identity, S10)"
            return [Check(step, Status.WARN, message)]
        error = missing_role(run.target, requirement)
        return [Check(step, Status.FAIL, error.message, error.code, requirement.grant_command(principal_id), error)]

    return check


def _failed(step: str, message: str, *, code: str, fix: str) -> list[Check]:
    """A failed state check: the fix is part of the message (the attach's error says it too)."""
    error = TetherError(f"{message} Fix: {fix}", code=code, target=step)
    return [Check(step, Status.FAIL, error.message, code, error=error)]


def _install_command(target: AttachTarget) -> str:
    return (
        f"tether k8s-extension create --name azureml --extension-type {AZUREML_EXTENSION_TYPE} --config "
        f"enableTraining=True --cluster-type {target.cluster_id.full_type.split('/')[1]} --cluster-name "
        f"{target.cluster_id.name} --resource-group {target.cluster_id.resource_group} --scope cluster"
    )


async def cluster_registered(run: AttachRun) -> list[Check]:
    target = run.target
    if target.cluster_exists:
        return []
    kind = "tether connectedk8s connect" if is_connected(target.cluster_id) else "tether aks create"
    return _failed(
        "cluster",
        f"The cluster '{target.cluster_id}' is not registered in Tether.",
        code="ClusterNotFound",
        fix=f"{kind} -g {target.cluster_id.resource_group} -n {target.cluster_id.name} ...",
    )


async def extension_installed(run: AttachRun) -> list[Check]:
    target, extension = run.target, run.target.extension
    if extension is None:
        return _failed(
            "extension",
            f"Extension not installed: cluster '{target.cluster_id.name}' has no {AZUREML_EXTENSION_TYPE} extension.",
            code="ExtensionNotInstalled",
            fix=_install_command(target),
        )
    if extension.provisioning_state != ProvisioningState.SUCCEEDED.value:
        return _failed(
            "extension",
            f"Extension not installed: the ML extension '{extension.name}' on cluster "
            f"'{target.cluster_id.name}' is {extension.provisioning_state}, not Succeeded.",
            code="ExtensionNotInstalled",
            fix=f"tether k8s-extension show --name {extension.name} ...",
        )
    return []


async def relay_exists(run: AttachRun) -> list[Check]:
    target = run.target
    if target.relay_exists:
        return []
    namespace, _, _ = relay_ids(target.cluster_id)
    return _failed(
        "relay",
        f"The relay '{namespace}' of connected cluster '{target.cluster_id.name}' does not exist; "
        "it is created with the ML extension.",
        code="RelayNotFound",
        fix=_install_command(target),
    )


async def read_cluster(run: AttachRun) -> list[Check]:
    """Reach the cluster (direct or relay) within the step's deadline; read its instance types and the
    extension's health (the preflight also looks up the namespace). The attach body's instance types are
    created where missing (``kube.instance_types``); the compute then offers those plus the built-in default."""
    target, deadline_s = run.target, run.deadline_s
    wanted = [InstanceTypeInfo.from_arm(n, b) for n, b in (run.create_instance_types or {}).items()]
    connected = is_connected(target.cluster_id)
    try:
        try:
            async with asyncio.timeout(deadline_s):
                async with run.access.connect(target.cluster_id.key, connected=connected, timeout_s=deadline_s) as conn:
                    await ping(conn)
                    types = await read_instance_types(conn.kube)
                    if wanted:
                        await ensure_instance_types(conn.kube, wanted, present=types)
                        named = {w.name for w in wanted}
                        types = [*(t for t in types if t.built_in and t.name not in named), *wanted]
                    health = await read_health(conn.kube)
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
        if run.dry_run:
            async with run.access.connect(target.cluster_id.key, connected=connected) as conn:
                run.namespace_exists = await namespace_exists(conn, target.namespace)
    except TetherError as e:
        return [Check("access", Status.FAIL, e.message, e.code, error=e)]
    run.facts = AttachFacts(instance_types={t.name: t.to_arm() for t in types}, health=health)
    if target.extension is not None:
        run.facts.extension_principal_id = target.extension.principal_id
        run.facts.release_train = target.extension.release_train
    types_named = ", ".join(sorted(run.facts.instance_types))
    return [Check("access", Status.PASS, f"the cluster answers; instance types: {types_named}")]


async def extension_warnings(run: AttachRun) -> list[Check]:
    health = run.facts.health if run.facts else None
    checks = []
    if health is not None and not health.training_enabled:
        checks.append(
            Check(
                "extension",
                Status.WARN,
                "the ML extension has training disabled: jobs will fail with E45004",
                fix="tether k8s-extension update ... --config enableTraining=True",
            )
        )
    if health is not None and not health.healthy:
        checks.append(Check("extension", Status.WARN, f"the ML extension's operator is unhealthy: {health.reason}"))
    return checks


async def namespace_warning(run: AttachRun) -> list[Check]:
    namespace = run.target.namespace
    if run.namespace_exists is None:
        return []
    if run.namespace_exists:
        return [Check("namespace", Status.PASS, f"namespace '{namespace}' exists")]
    return [
        Check(
            "namespace",
            Status.WARN,
            f"namespace '{namespace}' does not exist in the cluster: "
            "the attach does not create it (S7) and jobs will fail with NamespaceNotFound",
            fix=f"kubectl create namespace {namespace}",
        )
    ]
