"""Connected clusters (the Arc role): an agent inside the cluster dials out to Tether's relay.

``PUT`` creates the resource (``connectivityStatus: Connecting``); ``POST .../issueAgentCredential``
issues the agent's credential (shown once, stored hashed, replacing any previous one);
``POST .../revokeAgentCredential`` revokes it and drops the live tunnel. The control plane never
holds credentials for the cluster itself: it reaches the API server only through the agent.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from tether.crypto import hash_secret
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.models.clusters import ConnectedClusterRecord
from tether.domain.names import validate_name
from tether.domain.principals import PrincipalKind
from tether.domain.states import ProvisioningState
from tether.protocol.clusters import CreateConnectedClusterRequest
from tether.providers.base import RequestContext, WriteResult
from tether.providers.clusters import ClusterProvider, answer
from tether.providers.envelope import parse_body, require_parent
from tether.store import cluster_secrets, principals, resources

AGENT_VERSION = "tether-connect/1"


class ConnectedClusters(ClusterProvider):
    full_type: ClassVar[str] = rt.CONNECTED_CLUSTERS
    kind_name: ClassVar[str] = "connected cluster"

    def __init__(self, *, relay_url: str, revoke_tunnel: Callable[[str], Awaitable[None]]) -> None:
        self._relay_url = relay_url
        self._revoke_tunnel = revoke_tunnel

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateConnectedClusterRequest, body)
        validate_name(self.full_type, resource_id.name)
        async with ctx.store.transaction() as session:
            group = await require_parent(session, resource_id)
            row = await resources.get(session, resource_id, for_update=True)
            if row is not None:
                row = await resources.update(session, row, tags=request.tags, principal_id=ctx.caller.object_id)
                return WriteResult(answer(row), created=False)
            location = (request.location or (group.location if group else None) or "local").lower()
            principal = await principals.create(
                session,
                tenant_id=ctx.caller.tenant_id,
                kind=PrincipalKind.SYSTEM_ASSIGNED_IDENTITY.value,
                display_name=resource_id.name,
                resource_key=resource_id.key,
            )
            row = await resources.insert(
                session,
                resource_id,
                location=location,
                tags=request.tags,
                identity={
                    "type": "SystemAssigned",
                    "principalId": principal.object_id,
                    "tenantId": principal.tenant_id,
                },
                properties=ConnectedClusterRecord(
                    distribution=request.properties.distribution or "generic",
                    infrastructure=request.properties.infrastructure or "generic",
                    relay_endpoint=self._relay_url,
                ),
                state=ProvisioningState.SUCCEEDED,
                principal_id=ctx.caller.object_id,
            )
        return WriteResult(answer(row), created=True)

    async def issue_agent_credential(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        """A new agent credential for the cluster; any previous one stops working (and its tunnel drops)."""
        credential = secrets.token_urlsafe(32)
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id)
            if row is None:
                raise self.not_found(resource_id)
            await cluster_secrets.put(
                session, resource_key=row.key, kind=cluster_secrets.AGENT_CREDENTIAL, value=hash_secret(credential)
            )
        await self._revoke_tunnel(resource_id.key)
        return {"clusterId": str(row.id), "relayUrl": self._relay_url, "credential": credential}

    async def revoke_agent_credential(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id)
            if row is None:
                raise self.not_found(resource_id)
            await cluster_secrets.remove(session, resource_key=row.key, kind=cluster_secrets.AGENT_CREDENTIAL)
        await self._revoke_tunnel(resource_id.key)
        return {"clusterId": str(row.id), "revoked": True}

    async def after_delete(self, ctx: RequestContext, cluster_key: str) -> None:
        await self._revoke_tunnel(cluster_key)
