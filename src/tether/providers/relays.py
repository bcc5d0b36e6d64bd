"""Relay resources (``Microsoft.Relay/namespaces``, hybrid connections, authorization rules), read-only.

They are created with a connected cluster's ML extension, in the cluster's resource group, as
Azure ML does: a namespace named after cluster, subscription and group, a hybrid connection named
after the cluster, and the access rule ``azureml_rw`` (Manage, Send, Listen). Their meaning in
Tether is the scope of the Azure Relay Owner role that an attach requires of the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.attach import relay_ids
from tether.domain.ids import ResourceId
from tether.domain.models.relays import (
    HybridConnectionRecord,
    RelayAuthorizationRuleRecord,
    RelayNamespaceRecord,
    RelayRecord,
    relay_record_type,
)
from tether.domain.resources import Resource
from tether.domain.states import ProvisioningState
from tether.errors import InvalidRequest, NotFound
from tether.protocol.relays import relay_properties
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import envelope
from tether.store import Session, resources


async def ensure_relay(session: Session, cluster: Resource, *, principal_id: str) -> ResourceId:
    """Create the relay resources of a connected cluster if missing; returns the hybrid connection id."""
    cluster_id = ResourceId.resource(cluster.subscription_id, _group(cluster), rt.CONNECTED_CLUSTERS, cluster.name)
    namespace, connection, rule = relay_ids(cluster_id)
    properties: dict[ResourceId, RelayRecord] = {
        namespace: RelayNamespaceRecord(service_bus_endpoint=f"https://{namespace.name}.servicebus.tether"),
        connection: HybridConnectionRecord(),
        rule: RelayAuthorizationRuleRecord(rights=["Manage", "Send", "Listen"]),
    }
    for resource_id, props in properties.items():
        if await resources.get(session, resource_id) is None:
            await resources.insert(
                session,
                resource_id,
                location=cluster.location,
                tags={"created_by": "Tether ML extension"},
                identity=None,
                properties=props,
                state=ProvisioningState.SUCCEEDED,
                principal_id=principal_id,
            )
    return connection


async def remove_relay(session: Session, cluster: Resource) -> None:
    cluster_id = ResourceId.resource(cluster.subscription_id, _group(cluster), rt.CONNECTED_CLUSTERS, cluster.name)
    namespace, _, _ = relay_ids(cluster_id)
    await resources.delete_tree_by_key(session, namespace.key)


def _answer(row: Resource, *, provisioning_state: str | None) -> dict[str, Any]:
    record = resources.read_properties(row, relay_record_type(row.type))
    return envelope(row, properties=relay_properties(record, provisioning_state=provisioning_state))


def _group(row: Resource) -> str:
    # ids are /subscriptions/<s>/resourceGroups/<g>/providers/...: the group is the fourth segment
    return row.id.split("/")[4]


class RelayResources:
    """Read-only access to one relay resource type; they change only with their cluster's ML extension."""

    full_type: ClassVar[str]

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id)
        if row is None:
            raise NotFound(f"The relay resource '{resource_id}' could not be found.", code="RelayNotFound")
        return _answer(row, provisioning_state=row.provisioning_state)

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        async with ctx.store.transaction() as session:
            rows = await resources.list_children(session, parent, self.full_type, offset=offset, limit=limit + 1)
        return Page([_answer(r, provisioning_state=None) for r in rows[:limit]], more=len(rows) > limit)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        raise InvalidRequest(
            "Relay resources are created with a connected cluster's ML extension (tether k8s-extension create).",
            code="OperationNotAllowed",
        )

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        raise InvalidRequest(
            "Relay resources are deleted with their cluster's ML extension (tether k8s-extension delete).",
            code="OperationNotAllowed",
        )


class RelayNamespaces(RelayResources):
    full_type: ClassVar[str] = rt.RELAY_NAMESPACES


class HybridConnections(RelayResources):
    full_type: ClassVar[str] = rt.HYBRID_CONNECTIONS


class RelayAuthorizationRules(RelayResources):
    full_type: ClassVar[str] = rt.RELAY_AUTHORIZATION_RULES
