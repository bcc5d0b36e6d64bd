"""The resource types the ARM routes serve, each with its provider. Later resource types register here."""

from __future__ import annotations

from tether.domain.resource_types import canonical_type
from tether.providers.base import ResourceProvider
from tether.providers.federated_credentials import FederatedCredentials
from tether.providers.resource_groups import ResourceGroups
from tether.providers.role_assignments import RoleAssignments
from tether.providers.role_definitions import RoleDefinitions
from tether.providers.subscriptions import Subscriptions
from tether.providers.user_assigned_identities import UserAssignedIdentities
from tether.providers.vm_sizes import Usages, VmSizes
from tether.providers.workspaces import Workspaces


class ProviderRegistry:
    def __init__(self, providers: list[ResourceProvider]) -> None:
        self._by_type = {p.full_type.lower(): p for p in providers}

    def for_type(self, full_type: str) -> ResourceProvider | None:
        return self._by_type.get(full_type.lower())

    def served_types(self) -> list[str]:
        return sorted(canonical_type(t) or t for t in self._by_type)


def default_registry(*, extra: list[ResourceProvider] | None = None) -> ProviderRegistry:
    """The providers that need no wiring, plus ``extra`` ones built by the composition root."""
    return ProviderRegistry(
        [
            Subscriptions(),
            ResourceGroups(),
            Workspaces(),
            UserAssignedIdentities(),
            FederatedCredentials(),
            RoleAssignments(),
            RoleDefinitions(),
            VmSizes(),
            Usages(),
            *(extra or []),
        ]
    )
