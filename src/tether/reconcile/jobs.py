"""Dispatches jobs to their compute's cluster, and carries cancel requests there.

Dispatch: check the extension has training enabled (else E45004), reach the cluster (directly or
through the relay), check the compute's namespace exists (else NamespaceNotFound, within seconds,
with the ``kubectl create namespace`` fix: B3), trust the cluster's service-account issuer for the
compute identity (a federated credential for exactly ``system:serviceaccount:<namespace>:<account>``),
and create the TetherJob the extension's operator turns into pods. Submitting is idempotent, so a
dispatch interrupted by a restart resumes without duplicating anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.jobs import SIMULATION_TAG_PREFIX, JobStatus, cluster_job_name, service_account_name, with_event
from tether.domain.states import OperationKind
from tether.errors import NotFound, TetherError, Unavailable
from tether.kube.access import ClusterAccess
from tether.kube.jobs import JOB_ID_LABEL, request_cancel, submit
from tether.kube.probe import namespace_exists
from tether.reconcile.engine import OperationView, error_body
from tether.reconcile.errors import PermanentError, TemporaryError
from tether.store import Session, Store, federated_credentials, principals, resources
from tether.store.tables import OperationRow, ResourceRow

TOKEN_AUDIENCE = "api://AzureADTokenExchange"
TRAINING_DISABLED = "E45004: Training feature is not enabled, please enable it when install the extension."
_REACH_ATTEMPTS = 3


@dataclass(frozen=True)
class Dispatch:
    job_key: str
    name: str
    namespace: str
    cluster_id: ResourceId
    connected: bool
    spec: dict[str, Any]
    training_enabled: bool
    dispatched: bool


@dataclass(frozen=True)
class Outcome:
    phase: str
    reason: str


def _identity_of(compute: ResourceRow) -> str | None:
    """The object id the compute's workloads act as, if it has an identity."""
    identity = compute.identity or {}
    if identity.get("type") == "SystemAssigned":
        return str(identity.get("principalId"))
    if identity.get("type") == "UserAssigned":
        (first,) = list((identity.get("userAssignedIdentities") or {}).values())[:1] or [{}]
        return str(first.get("principalId")) if first.get("principalId") else None
    return None


async def _plan(session: Session, job: ResourceRow, *, authority: str) -> Dispatch:
    compute_id = parse_resource_id(job.properties["computeId"])
    compute = await resources.get(session, compute_id)
    if compute is None:
        raise NotFound(f"The job's compute '{compute_id.name}' no longer exists.", code="ComputeNotFound")
    cluster_id = parse_resource_id(compute.properties["resourceId"])
    cluster = await resources.get(session, cluster_id)
    if cluster is None:
        raise NotFound(f"The compute's cluster '{cluster_id}' no longer exists.", code="ClusterNotFound")
    namespace = compute.properties["properties"]["namespace"]
    extensions = await resources.list_children(session, cluster_id, rt.EXTENSIONS)
    settings = extensions[0].properties.get("configurationSettings", {}) if extensions else {}
    name = cluster_job_name(job.key, job.name)
    properties = job.properties
    spec: dict[str, Any] = {
        "jobName": job.name,
        "command": properties["command"],
        "image": properties["environment"]["image"],
        "instanceCount": properties.get("resources", {}).get("instanceCount", 1),
        "environmentVariables": properties.get("environmentVariables", {}),
        "computeName": compute.name,
        "workspaceId": str(compute_id.parent),
        "podAnnotations": {
            k: v for k, v in (properties.get("tags") or {}).items() if k.startswith(SIMULATION_TAG_PREFIX)
        },
    }
    instance_type = properties.get("resources", {}).get("instanceType")
    if instance_type:
        spec["instanceType"] = instance_type
    object_id = _identity_of(compute)
    if object_id is not None:
        principal = await principals.get(session, object_id)
        issuer = (cluster.properties.get("oidcIssuerProfile") or {}).get("issuerURL")
        if principal is not None and issuer:
            account = service_account_name(compute.name)
            await _trust_service_account(
                session, principal.object_id, issuer=issuer, namespace=namespace, account=account
            )
            spec["identity"] = {
                "clientId": principal.app_id,
                "tenantId": principal.tenant_id,
                "authorityHost": authority,
                "serviceAccountName": account,
            }
    return Dispatch(
        job_key=job.key,
        name=name,
        namespace=namespace,
        cluster_id=cluster_id,
        connected=cluster_id.full_type == rt.CONNECTED_CLUSTERS,
        spec=spec,
        training_enabled=str(settings.get("enableTraining", "false")).lower() == "true",
        dispatched=bool(properties.get("clusterJobName")),
    )


async def _trust_service_account(
    session: Session, object_id: str, *, issuer: str, namespace: str, account: str
) -> None:
    """A federated credential on the compute identity for exactly this cluster's service account."""
    subject = f"system:serviceaccount:{namespace}:{account}"
    digest = hashlib.sha256(f"{issuer}|{subject}".encode()).hexdigest()[:12]
    await federated_credentials.upsert(
        session,
        principal_id=object_id,
        name=f"tether-{digest}",
        issuer=issuer,
        subject=subject,
        audiences=[TOKEN_AUDIENCE],
    )


class JobOperations:
    resource_types: tuple[str, ...] = (rt.JOBS,)

    def __init__(self, *, store: Store, access: ClusterAccess, authority: str, step_deadline_s: float) -> None:
        self._store = store
        self._access = access
        self._authority = authority
        self._deadline_s = step_deadline_s

    async def execute(self, operation: OperationView) -> Any:
        async with self._store.transaction() as session:
            job = await resources.get_by_key(session, operation.resource_key)
            if job is None:
                return None
            plan = await _plan(session, job, authority=self._authority)
        if operation.kind is OperationKind.UPDATE:
            return await self._cancel(plan)
        if not plan.training_enabled:
            raise PermanentError(TetherError(TRAINING_DISABLED, code="E45004"))
        try:
            async with self._access.connect(
                plan.cluster_id.key, connected=plan.connected, timeout_s=self._deadline_s
            ) as connection:
                if not await namespace_exists(connection, plan.namespace):
                    raise PermanentError(
                        TetherError(
                            f"Namespace '{plan.namespace}' does not exist in cluster '{plan.cluster_id.name}' "
                            f"({plan.cluster_id}). Attaching a compute neither creates nor checks its namespace. "
                            f"Fix: kubectl create namespace {plan.namespace}",
                            code="NamespaceNotFound",
                        )
                    )
                created = await submit(
                    connection,
                    namespace=plan.namespace,
                    name=plan.name,
                    spec=plan.spec,
                    labels={JOB_ID_LABEL: plan.name},
                )
        except Unavailable as e:
            if operation.attempts < _REACH_ATTEMPTS:
                raise TemporaryError(str(e), delay_s=1.0) from e
            raise PermanentError(e) from e
        reason = f"TetherJob {plan.namespace}/{plan.name} created" if created else "TetherJob found (resumed)"
        return (plan, Outcome("Dispatched", reason))

    async def _cancel(self, plan: Dispatch) -> Any:
        if not plan.dispatched:
            return (plan, Outcome(JobStatus.CANCELED.value, "canceled before it reached the cluster"))
        try:
            async with self._access.connect(plan.cluster_id.key, connected=plan.connected) as connection:
                found = await request_cancel(connection, namespace=plan.namespace, name=plan.name)
        except Unavailable as e:
            raise TemporaryError(str(e), delay_s=2.0) from e
        if not found:
            return (plan, Outcome(JobStatus.CANCELED.value, "its TetherJob no longer exists"))
        return (plan, Outcome("CancelSent", "the operator is deleting the job's pods"))

    async def apply(self, session: Session, operation: OperationRow, result: Any) -> None:
        job = await resources.get_by_key(session, operation.resource_key)
        if job is None or result is None:
            return
        plan, outcome = result
        properties = dict(job.properties)
        properties["timeline"] = with_event(properties["timeline"], outcome.phase, reason=outcome.reason)
        if outcome.phase == "Dispatched":
            properties.update(clusterJobName=plan.name, namespace=plan.namespace, clusterId=str(plan.cluster_id))
        if outcome.phase == JobStatus.CANCELED.value:
            properties["status"] = JobStatus.CANCELED.value
        job.properties = properties

    async def fail(self, session: Session, operation: OperationRow, error: TetherError) -> None:
        job = await resources.get_by_key(session, operation.resource_key)
        if job is None:
            return
        job.properties = {
            **job.properties,
            "status": JobStatus.FAILED.value,
            "error": error_body(error),
            "timeline": with_event(
                job.properties["timeline"], JobStatus.FAILED.value, reason=f"{error.code}: {error.message}"
            ),
        }

    async def after_commit(self, operation: OperationView) -> None:
        return None
