"""Azure's built-in role definitions used by Tether, with their real names and GUIDs, as data.

A role grants ``actions minus notActions`` (management) and ``dataActions minus notDataActions`` (data).
Patterns use ``*`` for any run of characters (including ``/``) and match case-insensitively. Data
access comes only from ``dataActions``: Owner, Contributor and Reader read no blob.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

_STORAGE = "Microsoft.Storage/storageAccounts/blobServices"
_AKS = "Microsoft.ContainerService/managedClusters"
_ARC = "Microsoft.Kubernetes/connectedClusters"
_EXT = "Microsoft.KubernetesConfiguration/extensions"


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    alternatives = "|".join(".*".join(re.escape(part) for part in p.split("*")) for p in patterns)
    return re.compile(f"(?:{alternatives})", re.IGNORECASE)


@dataclass(frozen=True)
class RoleDefinition:
    name: str
    guid: str
    description: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = field(default=())

    @cached_property
    def _matchers(self) -> tuple[re.Pattern[str] | None, ...]:
        return tuple(_compile(p) for p in (self.actions, self.not_actions, self.data_actions, self.not_data_actions))

    def allows(self, action: str, *, data: bool = False) -> bool:
        """Whether this role grants ``action`` (a data action when ``data``)."""
        allow, deny = (self._matchers[2], self._matchers[3]) if data else (self._matchers[0], self._matchers[1])
        if allow is None or not allow.fullmatch(action):
            return False
        return deny is None or not deny.fullmatch(action)

    def definition_id(self, subscription_id: str) -> str:
        return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{self.guid}"


OWNER = RoleDefinition(
    "Owner",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Grants full access to manage all resources, including roles.",
    actions=("*",),
)
CONTRIBUTOR = RoleDefinition(
    "Contributor",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Grants full access to manage all resources, but does not allow you to assign roles.",
    actions=("*",),
    not_actions=(
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
    ),
)
READER = RoleDefinition(
    "Reader",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "View all resources, but does not allow you to make any changes.",
    actions=("*/read",),
)
ACR_PULL = RoleDefinition(
    "AcrPull",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Pull artifacts from a container registry.",
    actions=("Microsoft.ContainerRegistry/registries/pull/read",),
)
ACR_PUSH = RoleDefinition(
    "AcrPush",
    "8311e382-0749-4cb8-b61a-304f252e45ec",
    "Push artifacts to or pull artifacts from a container registry.",
    actions=("Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/push/write"),
)
ACR_DELETE = RoleDefinition(
    "AcrDelete",
    "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
    "acr delete",
    actions=("Microsoft.ContainerRegistry/registries/artifacts/delete",),
)
STORAGE_BLOB_DATA_READER = RoleDefinition(
    "Storage Blob Data Reader",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Read and list Azure Storage containers and blobs.",
    actions=(f"{_STORAGE}/containers/read", f"{_STORAGE}/generateUserDelegationKey/action"),
    data_actions=(f"{_STORAGE}/containers/blobs/read",),
)
STORAGE_BLOB_DATA_CONTRIBUTOR = RoleDefinition(
    "Storage Blob Data Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Read, write, and delete Azure Storage containers and blobs.",
    actions=(
        f"{_STORAGE}/containers/delete",
        f"{_STORAGE}/containers/read",
        f"{_STORAGE}/containers/write",
        f"{_STORAGE}/generateUserDelegationKey/action",
    ),
    data_actions=(
        f"{_STORAGE}/containers/blobs/delete",
        f"{_STORAGE}/containers/blobs/read",
        f"{_STORAGE}/containers/blobs/write",
        f"{_STORAGE}/containers/blobs/move/action",
        f"{_STORAGE}/containers/blobs/add/action",
    ),
)
STORAGE_BLOB_DATA_OWNER = RoleDefinition(
    "Storage Blob Data Owner",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Provides full access to Azure Storage blob containers and data, including assigning POSIX access control.",
    actions=(f"{_STORAGE}/containers/*", f"{_STORAGE}/generateUserDelegationKey/action"),
    data_actions=(f"{_STORAGE}/containers/blobs/*",),
)
KUBERNETES_EXTENSION_CONTRIBUTOR = RoleDefinition(
    "Kubernetes Extension Contributor",
    "85cb6faf-e071-4c9b-8136-154b5a04f717",
    "Can create, update, get, list and delete Kubernetes Extensions, and get extension async operations.",
    actions=(
        "Microsoft.Authorization/*/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        f"{_EXT}/write",
        f"{_EXT}/read",
        f"{_EXT}/delete",
        f"{_EXT}/operations/read",
    ),
)
AKS_CLUSTER_ADMIN = RoleDefinition(
    "Azure Kubernetes Service Cluster Admin Role",
    "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8",
    "List cluster admin credential action.",
    actions=(
        f"{_AKS}/listClusterAdminCredential/action",
        f"{_AKS}/accessProfiles/listCredential/action",
        f"{_AKS}/read",
        f"{_AKS}/runcommand/action",
        # REFERENCE.md: for connected clusters read Microsoft.Kubernetes/connectedClusters where Azure's
        # definition says managedClusters (the seed grants this role on both kinds of cluster).
        f"{_ARC}/listClusterAdminCredential/action",
        f"{_ARC}/read",
    ),
)
AKS_CONTRIBUTOR = RoleDefinition(
    "Azure Kubernetes Service Contributor Role",
    "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8",
    "Grants access to read and write Azure Kubernetes Service clusters.",
    actions=(f"{_AKS}/read", f"{_AKS}/write", "Microsoft.Resources/deployments/*"),
)
AZURE_RELAY_OWNER = RoleDefinition(
    "Azure Relay Owner",
    "2787bf04-f1f5-4bfe-8383-c8a24483ee38",
    "Allows for full access to Azure Relay resources.",
    actions=("Microsoft.Relay/*",),
    data_actions=("Microsoft.Relay/*",),
)
USER_ACCESS_ADMINISTRATOR = RoleDefinition(
    "User Access Administrator",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Lets you manage user access to Azure resources.",
    actions=("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
)

BUILT_IN_ROLES: tuple[RoleDefinition, ...] = (
    OWNER,
    CONTRIBUTOR,
    READER,
    ACR_PULL,
    ACR_PUSH,
    ACR_DELETE,
    STORAGE_BLOB_DATA_READER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_OWNER,
    KUBERNETES_EXTENSION_CONTRIBUTOR,
    AKS_CLUSTER_ADMIN,
    AKS_CONTRIBUTOR,
    AZURE_RELAY_OWNER,
    USER_ACCESS_ADMINISTRATOR,
)
_BY_GUID = {r.guid: r for r in BUILT_IN_ROLES}
_BY_NAME = {r.name.lower(): r for r in BUILT_IN_ROLES}


def role_by_guid(guid: str) -> RoleDefinition | None:
    return _BY_GUID.get(guid.lower())


def find_role(text: str) -> RoleDefinition | None:
    """A role by name (case-insensitive), GUID, or full role definition id."""
    key = text.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    return _BY_GUID.get(key) or _BY_NAME.get(text.strip().lower())
