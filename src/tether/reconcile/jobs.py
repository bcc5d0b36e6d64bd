"""Dispatches jobs to their compute's cluster, and carries cancel requests there.

Dispatch: plan it (``dispatch_plan``: the TetherJob's spec, and a federated credential on the
compute identity for exactly ``system:serviceaccount:<namespace>:<account>`` on the cluster's
service-account issuer), check the extension has training enabled (else E45004), reach the cluster
(directly or through the relay) and create the TetherJob the extension's operator turns into pods.
The create itself says whether the compute's namespace exists (else NamespaceNotFound, within
seconds, with the ``kubectl create namespace`` fix: B3). Submitting is idempotent, so a dispatch
interrupted by a restart resumes without duplicating anything.

A new job's dispatch is handed off (``starter``): planned in the transaction that creates the job and
run by the reconciler as soon as that commits, without a lease round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.authz.service import Authorizer
from tether.domain import resource_types as rt
from tether.domain.jobs import JobStatus, with_event
from tether.domain.models.jobs import JobError, JobPlacement, JobRecord
from tether.domain.operations import Operation
from tether.domain.principals import Caller, PrincipalKind
from tether.domain.registry_scopes import PULL_ACTION
from tether.domain.states import OperationKind
from tether.errors import Forbidden, NotFound, TetherError, Unauthenticated, Unavailable
from tether.kube.access import ClusterAccess
from tether.kube.jobs import JOB_ID_LABEL, NamespaceUnusable, request_cancel, submit
from tether.reconcile.dispatch_plan import Dispatch, ImagePull, Planner
from tether.reconcile.engine import error_body
from tether.reconcile.errors import PermanentError, TemporaryError
from tether.reconcile.job_delivery import DeliverySigner
from tether.store import Session, Store, resources

TRAINING_DISABLED = "E45004: Training feature is not enabled, please enable it when install the extension."
_REACH_ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome:
    phase: str
    reason: str


class JobOperations:
    resource_types: tuple[str, ...] = (rt.JOBS,)

    def __init__(
        self,
        *,
        store: Store,
        access: ClusterAccess,
        planner: Planner,
        step_deadline_s: float,
        on_dispatched: Callable[[], None] | None = None,
        delivery: DeliverySigner | None = None,
        authorizer: Authorizer | None = None,
    ) -> None:
        self._delivery = delivery
        self._authorizer = authorizer
        self._store = store
        self._access = access
        self._planner = planner
        self._deadline_s = step_deadline_s
        self._on_dispatched = on_dispatched

    async def prepare(self, session: Session, operation: Operation) -> Dispatch | None:
        """The dispatch plan, read in the job's creating transaction (a hand-off: see ``starter``)."""
        if operation.kind is not OperationKind.CREATE:
            return None
        job = await resources.get_by_key(session, operation.resource_key)
        return await self._planner.plan(session, job) if job is not None else None

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        plan = prepared
        if not isinstance(plan, Dispatch):
            async with self._store.transaction() as session:
                job = await resources.get_by_key(session, operation.resource_key)
                if job is None:
                    return None
                plan = await self._planner.plan(session, job)

        if operation.kind is OperationKind.UPDATE:
            return await self._cancel(plan)
        if not plan.training_enabled:
            raise PermanentError(TetherError(TRAINING_DISABLED, code="E45004"))
        if plan.image_pull is not None and self._authorizer is not None:
            await check_image_pull(self._authorizer, plan.image_pull)
        spec = plan.spec
        if plan.delivery is not None:
            if self._delivery is None:
                raise PermanentError(TetherError("This server has no blob storage to deliver the job's code from."))
            spec = {**spec, "delivery": await self._delivery.spec(plan.delivery, timeout_s=spec.get("timeoutSeconds"))}
        try:
            async with self._access.connect(
                plan.cluster_id.key, connected=plan.connected, timeout_s=self._deadline_s
            ) as connection:
                created = await submit(
                    connection,
                    namespace=plan.namespace,
                    name=plan.name,
                    spec=spec,
                    labels={JOB_ID_LABEL: plan.name},
                )
        except NamespaceUnusable as e:
            fix = f"kubectl create namespace {plan.namespace}"
            if e.terminating:
                fix = f"wait until it is gone, then {fix}"
            raise PermanentError(
                TetherError(
                    f"{e.message} in cluster '{plan.cluster_id.name}' ({plan.cluster_id}). Attaching a compute "
                    f"neither creates nor checks its namespace. Fix: {fix}",
                    code="NamespaceNotFound",
                )
            ) from e
        except Unavailable as e:
            if operation.attempts < _REACH_ATTEMPTS:
                raise TemporaryError(str(e), delay_s=1.0) from e
            raise PermanentError(e) from e
        reason = f"TetherJob {plan.namespace}/{plan.name} created" if created else "TetherJob found (resumed)"
        if plan.operator_note:
            reason = f"{reason}; {plan.operator_note}"
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

    async def apply(self, session: Session, operation: Operation, result: Any) -> None:
        job = await resources.get_by_key(session, operation.resource_key)
        if job is None or result is None:
            return
        plan, outcome = result
        record = resources.read_properties(job, JobRecord)
        state = record.state.model_copy(
            update={"timeline": with_event(record.state.timeline, outcome.phase, reason=outcome.reason)}
        )
        private = record.private
        if outcome.phase == "Dispatched":
            placement = JobPlacement(
                cluster_job_name=plan.name, namespace=plan.namespace, cluster_id=str(plan.cluster_id)
            )
            private = private.model_copy(update={"placement": placement})
        if outcome.phase == JobStatus.CANCELED.value:
            state = state.model_copy(update={"status": JobStatus.CANCELED})
        await resources.update(session, job, properties=record.model_copy(update={"state": state, "private": private}))

    async def fail(self, session: Session, operation: Operation, error: TetherError) -> None:
        job = await resources.get_by_key(session, operation.resource_key)
        if job is None:
            return
        record = resources.read_properties(job, JobRecord)
        state = record.state.model_copy(
            update={
                "status": JobStatus.FAILED,
                "error": JobError.model_validate(error_body(error)),
                "timeline": with_event(
                    record.state.timeline, JobStatus.FAILED.value, reason=f"{error.code}: {error.message}"
                ),
            }
        )
        await resources.update(session, job, properties=record.model_copy(update={"state": state}))

    async def after_commit(self, operation: Operation) -> None:
        if self._on_dispatched is not None:
            self._on_dispatched()  # the job monitor starts watching the job's namespace now, not at its next look


async def check_image_pull(authorizer: Authorizer, pull: ImagePull) -> None:
    """Fail the dispatch at once (``AuthorizationFailed``, with the fix) when the compute identity may not pull
    the job's image: the pods would otherwise wait in ImagePullBackOff."""
    registry = pull.registry_id
    if pull.identity is None:
        raise PermanentError(
            TetherError(
                f"The job's image '{pull.image}' is in the container registry '{registry.name}' ({registry}), but "
                f"compute '{pull.compute_name}' has no identity to pull it with. Assign the compute an identity "
                "(system- or user-assigned), then grant it AcrPull on the registry.",
                code="AuthorizationFailed",
            )
        )
    identity = pull.identity
    caller = Caller(identity.tenant_id, identity.object_id, identity.client_id, PrincipalKind.USER_ASSIGNED_IDENTITY)
    try:
        await authorizer.authorize(caller, PULL_ACTION, registry)
    except (Forbidden, Unauthenticated, NotFound) as e:
        raise PermanentError(
            TetherError(
                f"The compute identity of compute '{pull.compute_name}' (client id '{identity.client_id}', object id "
                f"'{identity.object_id}') does not have AcrPull ('{PULL_ACTION}') on the container registry "
                f"'{registry.name}' ({registry}), so the job's pods cannot pull '{pull.image}'. Grant it with: "
                f"tether role assignment create --assignee {identity.object_id} --role AcrPull --scope {registry}",
                code="AuthorizationFailed",
            )
        ) from e
