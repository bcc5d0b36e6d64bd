"""What every resource provider shares: the request context, results, and the provider protocol.

A provider validates a request, enforces its type's invariants, writes desired state in one short
transaction, and starts long-running operations through the injected ``OperationStarter``. It never
calls the network and knows nothing of HTTP: the API layer turns its results into status codes and
headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from tether.authz.service import Authorizer
from tether.domain.ids import ResourceId
from tether.domain.operations import Operation
from tether.domain.principals import Caller
from tether.domain.resources import Resource
from tether.domain.states import OperationKind
from tether.errors import AlreadyExists
from tether.settings import Settings
from tether.store import Session, Store


@dataclass(frozen=True)
class StartedOperation:
    """An operation begun in a provider's transaction, to pass to ``OperationStarter.run`` after the commit."""

    operation: Operation
    prepared: object | None = None
    """What the type's handler read for the first step in the creating transaction, the operation then
    leased to it (a hand-off: it runs without waiting for a poll or a lease); None otherwise."""


class OperationStarter(Protocol):
    """The one way a long-running operation begins (``tether.reconcile.starter``)."""

    async def start(self, session: Session, resource: Resource, kind: OperationKind) -> StartedOperation:
        """In the transaction that writes the resource: record the operation (and hand it off if its
        type's handler prepares hand-offs)."""

    def run(self, started: StartedOperation) -> None:
        """Once that transaction has committed: have the type's reconciler run it now."""


@dataclass(frozen=True)
class RequestContext:
    caller: Caller
    store: Store
    starter: OperationStarter
    settings: Settings
    authz: Authorizer


@dataclass(frozen=True)
class WriteResult:
    """A PUT's outcome: the resource as it now is, whether it was created, and its operation if any."""

    resource: dict[str, Any]
    created: bool
    operation_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeleteResult:
    """A DELETE's outcome: ``existed`` False answers 204; an operation id answers 202; ``resource``, when
    set, is the deleted resource as the 200 answer's body (ARM does this for role assignments)."""

    existed: bool
    operation_id: str | None = None
    resource: dict[str, Any] | None = None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    more: bool


class ResourceProvider(Protocol):
    """One resource type's behaviour behind the generic ARM routes."""

    full_type: ClassVar[str]

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]: ...

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page: ...

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult: ...

    async def delete(
        self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]
    ) -> DeleteResult: ...


async def put_resource(
    provider: ResourceProvider, ctx: RequestContext, resource_id: ResourceId, body: Any
) -> WriteResult:
    """A PUT, as ARM answers it under concurrency: create-or-update, whoever inserts first.

    Providers read, then insert when nothing is there; two concurrent PUTs can both read nothing, and
    the database refuses the second insert (``AlreadyExists``; its transaction rolled back whole). The
    loser runs again once and now finds the winner's row, so it answers as an update (200) or as the
    provider's conflict for that state (409, e.g. still Creating) — never a 500."""
    try:
        return await provider.put(ctx, resource_id, body)
    except AlreadyExists:
        return await provider.put(ctx, resource_id, body)
