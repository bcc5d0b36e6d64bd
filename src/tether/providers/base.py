"""What every resource provider shares: the request context, results, and the provider protocol.

A provider validates a request, enforces its type's invariants, writes desired state in one short
transaction, and wakes the reconcilers through the injected ``Hinter``. It never calls the network
and knows nothing of HTTP: the API layer turns its results into status codes and headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from tether.authz.service import Authorizer
from tether.domain.ids import ResourceId
from tether.domain.principals import Caller
from tether.errors import AlreadyExists
from tether.settings import Settings
from tether.store import Session, Store
from tether.store.tables import OperationRow


class Hinter(Protocol):
    """Wakes the reconciler of a resource type now instead of at its next idle poll, or hands it a new
    operation directly (``tether.reconcile.hints``)."""

    def wake(self, full_type: str) -> None: ...

    async def claim(self, session: Session, operation: OperationRow) -> Any:
        """In the creating transaction: lease the operation for a hand-off (None: no hand-off)."""

    def hand_off(self, claim: Any, full_type: str) -> None:
        """After the commit: run the claimed operation next (or, for None, ``wake`` the type's reconciler)."""


@dataclass(frozen=True)
class RequestContext:
    caller: Caller
    store: Store
    hints: Hinter
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
