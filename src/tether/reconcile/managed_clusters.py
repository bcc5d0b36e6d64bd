"""Finishes managed-cluster registrations: reach the API server with the stored kubeconfig and record
what it answers (version, nodes, service-account issuer, and the issuer's CA for federation)."""

from __future__ import annotations

import logging
from typing import Any

from tether.domain import resource_types as rt
from tether.domain.models.clusters import AgentPoolProfile, ManagedClusterRecord, OidcIssuerProfile, PowerState
from tether.domain.operations import Operation
from tether.domain.states import ProvisioningState
from tether.errors import Conflict, TetherError, Unavailable
from tether.kube.access import ClusterAccess
from tether.kube.probe import ClusterFacts, probe
from tether.reconcile.errors import PermanentError, TemporaryError
from tether.reconcile.resource_groups import mark_failed
from tether.store import Session, federated_credentials, resources, tenancy

_ATTEMPTS = 3

log = logging.getLogger(__name__)


def probed(record: ManagedClusterRecord, facts: ClusterFacts) -> ManagedClusterRecord:
    """The cluster's record with what the registration's probe found."""
    pool = AgentPoolProfile(name="nodepool1", count=facts.node_count, gpu_node_count=facts.gpu_node_count)
    return record.model_copy(
        update={
            "kubernetes_version": facts.kubernetes_version,
            "current_kubernetes_version": facts.kubernetes_version,
            "agent_pool_profiles": [pool],
            "oidc_issuer_profile": OidcIssuerProfile(enabled=facts.issuer is not None, issuer_url=facts.issuer),
            "power_state": PowerState(code="Running"),
        }
    )


class ManagedClusterOperations:
    resource_types: tuple[str, ...] = (rt.MANAGED_CLUSTERS,)

    def __init__(self, *, access: ClusterAccess) -> None:
        self._access = access

    async def execute(self, operation: Operation, prepared: object | None) -> Any:
        # A (re-)registration is about the kubeconfig just stored: never probe with a remembered one.
        await self._access.forget(operation.resource_key)
        try:
            async with self._access.connect(operation.resource_key, connected=False) as connection:
                ca_pem = connection.ca_pem()
                return await probe(connection), ca_pem
        except Unavailable as e:
            if operation.attempts < _ATTEMPTS:
                raise TemporaryError(str(e), delay_s=1.0) from e
            raise PermanentError(e) from e

    async def apply(self, session: Session, operation: Operation, result: Any) -> None:
        facts, ca_pem = result
        row = await resources.get_by_key(session, operation.resource_key)
        if row is None:
            return
        if facts.issuer and ca_pem:
            subscription = await tenancy.get_subscription(session, row.subscription_id)
            if subscription is not None:
                try:
                    await federated_credentials.trust_issuer(
                        session, tenant_id=subscription.tenant_id, issuer=facts.issuer, ca_pem=ca_pem, source=row.id
                    )
                except Conflict as e:  # another cluster's issuer: its trust stays as it was
                    log.warning("cluster %s names an issuer it may not register: %s", row.id, e.message)
        record = probed(resources.read_properties(row, ManagedClusterRecord), facts)
        await resources.update(session, row, properties=record, state=ProvisioningState.SUCCEEDED)

    async def fail(self, session: Session, operation: Operation, error: TetherError) -> None:
        await mark_failed(session, operation, error)

    async def after_commit(self, operation: Operation) -> None:
        return None
