"""Container registries (``Microsoft.ContainerRegistry/registries``): an ARM resource served by a login server.

Names are global and case-insensitive, as in Azure. Creation is synchronous: the registry's process
is serving its login server before the resource is written, and ``properties.loginServer`` is its
``127.0.0.1:<port>`` (docs/registries.md). If it cannot start (the Distribution binary missing, say),
creation fails with the engine's ``Unavailable`` (``RegistryUnavailable``, 503) and nothing is written.
Deleting a registry stops it and deletes its repositories.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.models.registries import RegistryRecord
from tether.domain.names import validate_name
from tether.domain.resources import Resource
from tether.domain.states import ProvisioningState
from tether.errors import Conflict, NotFound
from tether.protocol.registries import CreateRegistryRequest, registry_properties
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import envelope, parse_body, require_parent, rfc3339
from tether.providers.reads import read_page, read_row
from tether.providers.registry_engine import RegistryEngine
from tether.store import Session, resources


def not_found(resource_id: ResourceId) -> NotFound:
    return NotFound(
        f"The container registry '{resource_id.name}' was not found in resource group "
        f"'{resource_id.resource_group}'. Create it with: tether acr create -n {resource_id.name} "
        f"-g {resource_id.resource_group}",
        code="ResourceNotFound",
    )


def answer(row: Resource) -> dict[str, Any]:
    properties = registry_properties(
        resources.read_properties(row, RegistryRecord),
        creation_date=rfc3339(row.created_at),
        provisioning_state=row.provisioning_state,
    )
    body = envelope(row, properties=properties)
    body["sku"] = {"name": "Basic", "tier": "Basic"}
    return body


class ContainerRegistries:
    full_type: ClassVar[str] = rt.REGISTRIES

    def __init__(self, *, engine: RegistryEngine) -> None:
        self._engine = engine

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        return await read_page(ctx, parent, self.full_type, offset=offset, limit=limit, render=answer)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateRegistryRequest, body)
        validate_name(self.full_type, resource_id.name)
        async with ctx.store.transaction() as session:
            group = await require_parent(session, resource_id)
            if (existing := await self._update_existing(session, ctx, resource_id, request)) is not None:
                return existing
            location = (request.location or (group.location if group else None) or "local").replace(" ", "").lower()
        # Starting the registry's process takes a moment: outside any transaction, then checked again.
        login_server = await self._engine.serve(resource_id)
        try:
            async with ctx.store.transaction() as session:
                await require_parent(session, resource_id)
                if (existing := await self._update_existing(session, ctx, resource_id, request)) is not None:
                    return existing  # a concurrent PUT of the same registry wrote it first: it is served
                row = await resources.insert(
                    session,
                    resource_id,
                    location=location,
                    tags=request.tags,
                    identity=None,
                    properties=RegistryRecord(login_server=login_server),
                    state=ProvisioningState.SUCCEEDED,
                    principal_id=ctx.caller.object_id,
                )
        except Conflict:
            raise  # the name was taken meanwhile: what serves it is the other registry's
        except BaseException:
            await self._engine.remove(resource_id.name)
            raise
        return WriteResult(answer(row), created=True)

    async def _update_existing(
        self, session: Session, ctx: RequestContext, resource_id: ResourceId, request: CreateRegistryRequest
    ) -> WriteResult | None:
        """The answer for a registry that exists (its tags updated); None if it does not; a Conflict if its name
        is another registry's."""
        row = await resources.get(session, resource_id, for_update=True)
        if row is not None:
            row = await resources.update(session, row, tags=request.tags, principal_id=ctx.caller.object_id)
            return WriteResult(answer(row), created=False)
        if await resources.find_by_name(session, self.full_type, resource_id.name):
            raise Conflict(
                f"The registry {resource_id.name} is already in use. Registry names are unique across all "
                "subscriptions: choose another name.",
                code="AlreadyInUse",
            )
        return None

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            await resources.delete_tree_by_key(session, row.key)
        await self._engine.remove(resource_id.name)
        return DeleteResult(existed=True)
