"""What managed and connected clusters share: reading, listing, deleting, and their answer's shape.

Deleting a cluster only forgets it in Tether (its extensions' records, its secrets); nothing in the
cluster itself is touched. A cluster with compute targets attached cannot be deleted (detach first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain.ids import ResourceId
from tether.domain.models.clusters import ClusterRecord, record_type
from tether.domain.resources import Resource
from tether.errors import Conflict, NotFound
from tether.protocol.clusters import cluster_properties
from tether.providers.base import DeleteResult, Page, RequestContext
from tether.providers.envelope import envelope
from tether.providers.reads import read_page, read_row
from tether.store import cluster_secrets, principals, resources, role_assignments

COMPUTES = "Microsoft.MachineLearningServices/workspaces/computes"


def answer(row: Resource) -> dict[str, Any]:
    """The cluster (managed or connected, by its row's type) as ARM answers it."""
    record: ClusterRecord = resources.read_properties(row, record_type(row.type))
    return envelope(row, properties=cluster_properties(record, provisioning_state=row.provisioning_state))


class ClusterProvider:
    """Base of the two cluster providers; subclasses set ``full_type``, ``kind_name`` and ``put``."""

    full_type: ClassVar[str]
    kind_name: ClassVar[str]

    def not_found(self, resource_id: ResourceId) -> NotFound:
        return NotFound(
            f"The {self.kind_name} '{resource_id.name}' could not be found in resource group "
            f"'{resource_id.resource_group}'.",
            code="ResourceNotFound",
        )

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return answer(await read_row(ctx, resource_id, missing=self.not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        return await read_page(ctx, parent, self.full_type, offset=offset, limit=limit, render=answer)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            attached = await resources.find_by_property(session, COMPUTES, name="resourceId", value=row.id)
            if attached:
                names = ", ".join(sorted(r.id for r in attached))
                raise Conflict(
                    f"The {self.kind_name} '{row.name}' is attached as compute target(s): {names}. "
                    "Detach them first with: tether ml compute detach",
                    code="ClusterInUse",
                )
            await cluster_secrets.remove(session, resource_key=row.key)
            for object_id in await principals.delete_owned_within(session, row.key):
                await role_assignments.delete_for_principal(session, object_id)
            await role_assignments.delete_within(session, row.key)
            await resources.delete_tree_by_key(session, row.key)
        await self.after_delete(ctx, row.key)
        return DeleteResult(existed=True)

    async def after_delete(self, ctx: RequestContext, cluster_key: str) -> None:
        """Hook for what else a cluster kind must forget (a connected cluster's live tunnel)."""
