"""Authorization: may this principal perform this action on this scope? Decided from role assignments.

A principal's permissions at a scope are the union of the roles assigned to it at that scope and at
every parent scope (REFERENCE.md). Decisions read an in-memory index of each principal's own
assignments, so their cost depends on that principal's assignments only, never on the total
(bench/authz.py measures it). Writes through this process invalidate the index at once; entries
also expire after ``ttl_s`` so that several server processes on one database converge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tether.domain.commands import either_cli
from tether.domain.ids import ResourceId
from tether.domain.principals import Caller
from tether.domain.roles import RoleDefinition, role_by_guid
from tether.errors import Forbidden, NotFound, Unauthenticated
from tether.recent import Recent
from tether.store import Store, role_assignments, tenancy


@dataclass(frozen=True)
class Assignment:
    """What a decision needs of a role assignment."""

    id: str
    scope_key: str
    scope: str
    role: RoleDefinition


@dataclass(frozen=True)
class Decision:
    allowed: bool
    principal_id: str
    action: str
    scope: ResourceId
    granted_by: Assignment | None = None


class AssignmentIndex:
    """Each principal's assignments, loaded from the store on first use."""

    def __init__(self, store: Store, *, ttl_s: float) -> None:
        self._store = store
        self._entries: Recent[str, tuple[Assignment, ...]] = Recent(ttl_s)

    async def of(self, principal_id: str) -> tuple[Assignment, ...]:
        key = principal_id.lower()
        if (known := self._entries.get(key)) is not None:
            return known
        async with self._store.transaction() as session:
            rows = await role_assignments.for_principal(session, key)
        assignments = tuple(
            Assignment(r.display_id, r.scope_key, r.scope, role)
            for r in rows
            if (role := role_by_guid(r.role_definition_guid)) is not None
        )
        return self._entries.put(key, assignments)

    def invalidate(self, principal_id: str | None = None) -> None:
        """Forget one principal's entry (after a write for it), or every entry."""
        self._entries.forget(principal_id.lower() if principal_id is not None else None)


def first_grant(
    assignments: Sequence[Assignment], action: str, scope: ResourceId, *, data: bool = False
) -> Assignment | None:
    """The assignment (at the scope or a parent) whose role grants ``action``, most specific scope first."""
    chain = {s.key for s in scope.scopes()}
    matching = [a for a in assignments if a.scope_key in chain and a.role.allows(action, data=data)]
    return max(matching, key=lambda a: len(a.scope_key)) if matching else None


def forbidden_message(caller: Caller, action: str, scope: ResourceId) -> str:
    return (
        f"The {caller.describe()} does not have authorization to perform action '{action}' over scope "
        f"'{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
    )


class Authorizer:
    def __init__(self, store: Store, *, ttl_s: float = 5.0) -> None:
        self._store = store
        self.index = AssignmentIndex(store, ttl_s=ttl_s)
        self._subscription_tenants: dict[str, str] = {}

    async def tenant_of(self, subscription_id: str) -> str | None:
        key = subscription_id.lower()
        if key not in self._subscription_tenants:
            async with self._store.transaction() as session:
                row = await tenancy.get_subscription(session, key)
            if row is None:
                return None
            self._subscription_tenants[key] = row.tenant_id
        return self._subscription_tenants[key]

    async def decide(self, principal_id: str, action: str, scope: ResourceId, *, data: bool = False) -> Decision:
        grant = first_grant(await self.index.of(principal_id), action, scope, data=data)
        return Decision(grant is not None, principal_id, action, scope, grant)

    async def authorize(self, caller: Caller, action: str, scope: ResourceId, *, data: bool = False) -> Decision:
        """Return the granting decision, or raise: ``NotFound`` (subscription), ``Unauthenticated`` (foreign
        tenant), ``Forbidden`` (no role grants the action) — in Azure's words."""
        tenant = await self.tenant_of(scope.subscription_id)
        if tenant is None:
            raise NotFound(
                f"The subscription '{scope.subscription_id}' could not be found. "
                "See your subscriptions with: " + either_cli("account list"),
                code="SubscriptionNotFound",
            )
        if tenant != caller.tenant_id:
            raise Unauthenticated(
                f"The access token is from tenant '{caller.tenant_id}', but subscription "
                f"'{scope.subscription_id}' belongs to another tenant. Log in to that tenant.",
                code="InvalidAuthenticationTokenTenant",
            )
        decision = await self.decide(caller.object_id, action, scope, data=data)
        if not decision.allowed:
            raise Forbidden(forbidden_message(caller, action, scope), code="AuthorizationFailed")
        return decision
