"""Pure RBAC decisions: the built-in roles as data (``RoleDefinition.allows``) and ``first_grant`` over scopes.

Rules under test (REFERENCE.md, "Built-in roles"): a role grants ``actions - notActions`` and
``dataActions - notDataActions``; ``*`` matches any run of characters including ``/``; matching is
case-insensitive; data access comes only from dataActions; an assignment applies at its scope and
every scope below it, never above or beside it.
"""

from __future__ import annotations

import pytest

from tether.authz.service import Assignment, first_grant
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.roles import (
    ACR_DELETE,
    ACR_PULL,
    ACR_PUSH,
    AKS_CLUSTER_ADMIN,
    AKS_CONTRIBUTOR,
    AZURE_RELAY_OWNER,
    BUILT_IN_ROLES,
    CONTRIBUTOR,
    KUBERNETES_EXTENSION_CONTRIBUTOR,
    OWNER,
    READER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_OWNER,
    STORAGE_BLOB_DATA_READER,
    USER_ACCESS_ADMINISTRATOR,
    RoleDefinition,
    find_role,
    role_by_guid,
)

SUB = "00000000-0000-0000-0000-0000000000aa"
BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
BLOB_READ = f"{BLOBS}/read"
BLOB_WRITE = f"{BLOBS}/write"
BLOB_DELETE = f"{BLOBS}/delete"
CONTAINERS_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/read"
PULL = "Microsoft.ContainerRegistry/registries/pull/read"
PUSH = "Microsoft.ContainerRegistry/registries/push/write"
ASSIGN = "Microsoft.Authorization/roleAssignments/write"
UNASSIGN = "Microsoft.Authorization/roleAssignments/delete"
EXTENSIONS = "Microsoft.KubernetesConfiguration/extensions"
AKS = "Microsoft.ContainerService/managedClusters"
HYBRID_CONNECTIONS = "Microsoft.Relay/namespaces/hybridConnections"

SUBSCRIPTION = ResourceId.subscription(SUB)
RG1 = ResourceId.group(SUB, "rg1")
RG10 = ResourceId.group(SUB, "rg10")
REGISTRY = ResourceId.resource(SUB, "rg1", rt.REGISTRIES, "reg1")
OTHER_REGISTRY = ResourceId.resource(SUB, "rg1", rt.REGISTRIES, "reg2")
STORAGE = ResourceId.resource(SUB, "rg1", rt.STORAGE_ACCOUNTS, "st1")
WORKSPACE = ResourceId.resource(SUB, "rg1", rt.WORKSPACES, "ws1")
COMPUTE = WORKSPACE.child("computes", "c1")


def role_ids(value: object) -> str | None:
    """Test ids: a role by its name, anything else as pytest would name it."""
    return value.name.replace(" ", "") if isinstance(value, RoleDefinition) else None


def assignment(role: RoleDefinition, scope: ResourceId, name: str = "a1") -> Assignment:
    """An assignment as the authorizer's index holds it (scope key lower-cased, as the store writes it)."""
    return Assignment(
        id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        scope_key=str(scope).lower(),
        scope=str(scope),
        role=role,
    )


# --- the roles are Azure's ----------------------------------------------------------------------


AZURE_ROLES = [
    (OWNER, "Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
    (CONTRIBUTOR, "Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
    (READER, "Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
    (ACR_PULL, "AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d"),
    (ACR_PUSH, "AcrPush", "8311e382-0749-4cb8-b61a-304f252e45ec"),
    (ACR_DELETE, "AcrDelete", "c2f4ef07-c644-48eb-af81-4b1b4947fb11"),
    (STORAGE_BLOB_DATA_READER, "Storage Blob Data Reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"),
    (STORAGE_BLOB_DATA_CONTRIBUTOR, "Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
    (STORAGE_BLOB_DATA_OWNER, "Storage Blob Data Owner", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"),
    (KUBERNETES_EXTENSION_CONTRIBUTOR, "Kubernetes Extension Contributor", "85cb6faf-e071-4c9b-8136-154b5a04f717"),
    (AKS_CLUSTER_ADMIN, "Azure Kubernetes Service Cluster Admin Role", "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"),
    (AKS_CONTRIBUTOR, "Azure Kubernetes Service Contributor Role", "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8"),
    (AZURE_RELAY_OWNER, "Azure Relay Owner", "2787bf04-f1f5-4bfe-8383-c8a24483ee38"),
    (USER_ACCESS_ADMINISTRATOR, "User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"),
]


@pytest.mark.parametrize(("role", "name", "guid"), AZURE_ROLES, ids=[name for _, name, _ in AZURE_ROLES])
def test_built_in_roles_have_azures_names_and_guids(role: RoleDefinition, name: str, guid: str) -> None:
    assert (role.name, role.guid) == (name, guid)
    assert role_by_guid(guid) is role
    assert role_by_guid(guid.upper()) is role
    assert find_role(name) is role
    assert find_role(name.upper()) is role
    assert find_role(role.definition_id(SUB)) is role
    assert role.definition_id(SUB) == f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def test_the_built_in_roles_are_exactly_those_of_the_reference() -> None:
    assert [r.guid for r in BUILT_IN_ROLES] == [guid for _, _, guid in AZURE_ROLES]


@pytest.mark.parametrize("text", ["Storage Blob Reader", "00000000-0000-0000-0000-000000000000", "", "owner2"])
def test_unknown_roles_are_not_found(text: str) -> None:
    assert find_role(text) is None


# --- data actions come only from dataActions ----------------------------------------------------


@pytest.mark.parametrize("role", [OWNER, CONTRIBUTOR, READER], ids=role_ids)
def test_management_roles_read_no_blob_data(role: RoleDefinition) -> None:
    assert role.allows(BLOB_READ, data=True) is False
    assert role.allows(BLOB_WRITE, data=True) is False
    # The very same string as a management action is within their `*` / `*/read`:
    assert role.allows(BLOB_READ) is True


def test_storage_blob_data_reader_reads_blobs_but_does_not_write_them() -> None:
    assert STORAGE_BLOB_DATA_READER.allows(BLOB_READ, data=True) is True
    assert STORAGE_BLOB_DATA_READER.allows(BLOB_WRITE, data=True) is False
    assert STORAGE_BLOB_DATA_READER.allows(BLOB_DELETE, data=True) is False
    assert STORAGE_BLOB_DATA_READER.allows(CONTAINERS_READ) is True
    # A data action is not a management action: the data role's `actions` do not list blob reads.
    assert STORAGE_BLOB_DATA_READER.allows(BLOB_READ) is False
    assert STORAGE_BLOB_DATA_READER.allows(CONTAINERS_READ, data=True) is False


def test_storage_blob_data_contributor_writes_and_deletes_blobs() -> None:
    for action in (BLOB_READ, BLOB_WRITE, BLOB_DELETE, f"{BLOBS}/move/action", f"{BLOBS}/add/action"):
        assert STORAGE_BLOB_DATA_CONTRIBUTOR.allows(action, data=True) is True, action
    assert STORAGE_BLOB_DATA_CONTRIBUTOR.allows(f"{BLOBS}/tags/write", data=True) is False
    assert STORAGE_BLOB_DATA_CONTRIBUTOR.allows("Microsoft.Storage/storageAccounts/write") is False


def test_data_roles_on_a_storage_account_scope_grant_blob_data_there_only() -> None:
    granted = [assignment(STORAGE_BLOB_DATA_READER, STORAGE)]
    other_account = ResourceId.resource(SUB, "rg1", rt.STORAGE_ACCOUNTS, "st2")

    assert first_grant(granted, BLOB_READ, STORAGE, data=True) == granted[0]
    assert first_grant(granted, BLOB_WRITE, STORAGE, data=True) is None
    assert first_grant(granted, BLOB_READ, other_account, data=True) is None
    assert first_grant([assignment(OWNER, SUBSCRIPTION)], BLOB_READ, STORAGE, data=True) is None


# --- registries ---------------------------------------------------------------------------------


def test_acr_pull_on_a_registry_pulls_but_does_not_push_and_gives_nothing_on_another() -> None:
    granted = [assignment(ACR_PULL, REGISTRY)]

    assert first_grant(granted, PULL, REGISTRY) == granted[0]
    assert first_grant(granted, PUSH, REGISTRY) is None
    assert first_grant(granted, PULL, OTHER_REGISTRY) is None
    assert first_grant(granted, PULL, RG1) is None  # not above its scope
    assert first_grant(granted, "Microsoft.ContainerRegistry/registries/read", REGISTRY) is None


def test_acr_push_pushes_and_pulls() -> None:
    granted = [assignment(ACR_PUSH, REGISTRY)]

    assert first_grant(granted, PULL, REGISTRY) == granted[0]
    assert first_grant(granted, PUSH, REGISTRY) == granted[0]
    assert first_grant(granted, "Microsoft.ContainerRegistry/registries/delete", REGISTRY) is None
    assert first_grant(granted, PUSH, OTHER_REGISTRY) is None


# --- pattern matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (READER, "Microsoft.MachineLearningServices/workspaces/read", True),
        (READER, "Microsoft.MachineLearningServices/workspaces/computes/read", True),  # `*` spans `/`
        (READER, "Microsoft.MachineLearningServices/workspaces/write", False),
        (READER, "Microsoft.MachineLearningServices/workspaces/readme", False),  # anchored at the end
        (READER, "Microsoft.MachineLearningServices/workspaces/read/action", False),
        (AZURE_RELAY_OWNER, f"{HYBRID_CONNECTIONS}/authorizationRules/listKeys/action", True),
        (AZURE_RELAY_OWNER, "MicrosoftXRelay/namespaces/write", False),  # '.' is literal, not a regex dot
        (AZURE_RELAY_OWNER, "Microsoft.RelayX/namespaces/write", False),  # the '/' before '*' is required
        (KUBERNETES_EXTENSION_CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/read", True),
        (KUBERNETES_EXTENSION_CONTRIBUTOR, "Microsoft.Authorization/policy/assignments/read", True),
        (KUBERNETES_EXTENSION_CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/write", False),
        (KUBERNETES_EXTENSION_CONTRIBUTOR, "Microsoft.Resources/deployments/operationStatuses/read", True),
        (OWNER, "anything/at/all", True),
    ],
    ids=role_ids,
)
def test_star_matches_any_run_of_characters_including_slashes(role: RoleDefinition, action: str, allowed: bool) -> None:
    assert role.allows(action) is allowed


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (ACR_PULL, "MICROSOFT.containerregistry/REGISTRIES/Pull/READ", True),
        (ACR_PULL, "microsoft.containerregistry/registries/push/write", False),
        (ACR_PUSH, "MICROSOFT.CONTAINERREGISTRY/REGISTRIES/PUSH/WRITE", True),
        (READER, "microsoft.machinelearningservices/workspaces/READ", True),
        # notActions are case-insensitive too: Contributor's `Microsoft.Authorization/*/Write` denies lower case.
        (CONTRIBUTOR, "microsoft.authorization/roleassignments/write", False),
        (CONTRIBUTOR, "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/DELETE", False),
    ],
    ids=role_ids,
)
def test_matching_is_case_insensitive(role: RoleDefinition, action: str, allowed: bool) -> None:
    assert role.allows(action) is allowed


def test_case_insensitive_for_data_actions() -> None:
    assert STORAGE_BLOB_DATA_READER.allows(BLOB_READ.upper(), data=True) is True
    assert STORAGE_BLOB_DATA_READER.allows(BLOB_WRITE.lower(), data=True) is False


# --- notActions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "contributor", "owner"),
    [
        (ASSIGN, False, True),
        (UNASSIGN, False, True),
        ("Microsoft.Authorization/roleAssignments/read", True, True),
        ("Microsoft.Authorization/locks/write", False, True),
        ("Microsoft.Authorization/elevateAccess/Action", False, True),
        ("Microsoft.MachineLearningServices/workspaces/write", True, True),
        ("Microsoft.MachineLearningServices/workspaces/delete", True, True),
        (f"{AKS}/listClusterAdminCredential/action", True, True),
    ],
)
def test_contributor_is_owner_minus_authorization_writes_and_deletes(
    action: str, contributor: bool, owner: bool
) -> None:
    assert CONTRIBUTOR.allows(action) is contributor
    assert OWNER.allows(action) is owner


def test_contributor_cannot_assign_roles_at_any_scope() -> None:
    granted = [assignment(CONTRIBUTOR, SUBSCRIPTION)]
    assignment_id = RG1.extension("Microsoft.Authorization", "roleAssignments", "a2")

    assert first_grant(granted, ASSIGN, assignment_id) is None
    assert first_grant(granted, UNASSIGN, assignment_id) is None
    assert first_grant(granted, "Microsoft.MachineLearningServices/workspaces/write", WORKSPACE) == granted[0]


# --- Kubernetes and relay roles -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (f"{EXTENSIONS}/write", True),
        (f"{EXTENSIONS}/read", True),
        (f"{EXTENSIONS}/delete", True),
        (f"{EXTENSIONS}/operations/read", True),
        ("Microsoft.Resources/subscriptions/resourceGroups/read", True),
        ("Microsoft.KubernetesConfiguration/fluxConfigurations/write", False),
        (f"{AKS}/write", False),
        (f"{AKS}/listClusterAdminCredential/action", False),
    ],
)
def test_kubernetes_extension_contributor(action: str, allowed: bool) -> None:
    assert KUBERNETES_EXTENSION_CONTRIBUTOR.allows(action) is allowed


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (f"{AKS}/listClusterAdminCredential/action", True),
        (f"{AKS}/accessProfiles/listCredential/action", True),
        (f"{AKS}/read", True),
        (f"{AKS}/runcommand/action", True),
        (f"{AKS}/listClusterUserCredential/action", False),
        (f"{AKS}/write", False),
        (f"{EXTENSIONS}/write", False),
    ],
)
def test_aks_cluster_admin_role(action: str, allowed: bool) -> None:
    assert AKS_CLUSTER_ADMIN.allows(action) is allowed


def test_aks_contributor_writes_clusters_but_gets_no_admin_credential() -> None:
    assert AKS_CONTRIBUTOR.allows(f"{AKS}/write") is True
    assert AKS_CONTRIBUTOR.allows(f"{AKS}/read") is True
    assert AKS_CONTRIBUTOR.allows(f"{AKS}/listClusterAdminCredential/action") is False


def test_cluster_admin_on_one_cluster_is_nothing_on_another() -> None:
    cluster = ResourceId.resource(SUB, "rg1", rt.MANAGED_CLUSTERS, "aks1")
    other = ResourceId.resource(SUB, "rg1", rt.MANAGED_CLUSTERS, "aks2")
    granted = [assignment(AKS_CLUSTER_ADMIN, cluster)]
    action = f"{AKS}/listClusterAdminCredential/action"

    assert first_grant(granted, action, cluster) == granted[0]
    assert first_grant(granted, action, other) is None


@pytest.mark.parametrize(
    "action",
    [
        f"{HYBRID_CONNECTIONS}/listen/action",
        f"{HYBRID_CONNECTIONS}/send/action",
        "Microsoft.Relay/namespaces/messages/send/action",
    ],
)
def test_azure_relay_owner_has_relay_data_actions(action: str) -> None:
    assert AZURE_RELAY_OWNER.allows(action, data=True) is True
    assert AZURE_RELAY_OWNER.allows(action) is True
    assert OWNER.allows(action, data=True) is False
    assert CONTRIBUTOR.allows(action, data=True) is False


def test_azure_relay_owner_has_nothing_outside_relay() -> None:
    assert AZURE_RELAY_OWNER.allows(BLOB_READ, data=True) is False
    assert AZURE_RELAY_OWNER.allows("Microsoft.ServiceBus/namespaces/write") is False


@pytest.mark.parametrize("role", [r for r in BUILT_IN_ROLES if not r.data_actions], ids=role_ids)
def test_roles_without_data_actions_grant_no_data_action(role: RoleDefinition) -> None:
    for action in (BLOB_READ, f"{HYBRID_CONNECTIONS}/listen/action", PULL, "*"):
        assert role.allows(action, data=True) is False, action


# --- scopes -------------------------------------------------------------------------------------


def test_an_assignment_applies_at_its_scope_and_below_never_above() -> None:
    granted = [assignment(READER, RG1)]
    read = "Microsoft.MachineLearningServices/workspaces/computes/read"

    assert first_grant(granted, "Microsoft.Resources/resourceGroups/read", RG1) == granted[0]
    assert first_grant(granted, read, COMPUTE) == granted[0]
    assert first_grant(granted, "Microsoft.Resources/subscriptions/read", SUBSCRIPTION) is None


def test_a_sibling_scope_sharing_a_name_prefix_is_not_a_child() -> None:
    """An assignment at ``rg1`` must not apply in ``rg10`` (a prefix match without the '/' would)."""
    granted = [assignment(OWNER, RG1)]
    in_rg10 = ResourceId.resource(SUB, "rg10", rt.WORKSPACES, "ws1")

    assert first_grant(granted, "Microsoft.MachineLearningServices/workspaces/write", in_rg10) is None
    assert first_grant(granted, "Microsoft.Resources/resourceGroups/read", RG10) is None


def test_an_assignment_at_a_child_scope_gives_nothing_at_the_parent() -> None:
    granted = [assignment(OWNER, COMPUTE)]

    assert first_grant(granted, "Microsoft.MachineLearningServices/workspaces/computes/read", COMPUTE) == granted[0]
    assert first_grant(granted, "Microsoft.MachineLearningServices/workspaces/read", WORKSPACE) is None
    other_compute = WORKSPACE.child("computes", "c2")
    assert first_grant(granted, "Microsoft.MachineLearningServices/workspaces/computes/read", other_compute) is None


def test_scopes_compare_case_insensitively() -> None:
    granted = [assignment(ACR_PULL, REGISTRY)]
    shouted = ResourceId.resource(SUB.upper(), "RG1", rt.REGISTRIES, "REG1")

    assert first_grant(granted, PULL, shouted) == granted[0]


def test_the_most_specific_granting_assignment_is_named() -> None:
    at_subscription = assignment(READER, SUBSCRIPTION, "s")
    at_group = assignment(CONTRIBUTOR, RG1, "g")
    at_workspace = assignment(READER, WORKSPACE, "w")
    elsewhere = assignment(OWNER, RG10, "x")
    granted = [at_subscription, at_group, at_workspace, elsewhere]

    assert first_grant(granted, "Microsoft.MachineLearningServices/workspaces/computes/read", COMPUTE) == at_workspace
    # The workspace's Reader does not write; the group's Contributor does, and is named.
    assert first_grant(granted, "Microsoft.MachineLearningServices/workspaces/computes/write", COMPUTE) == at_group
    assert first_grant(granted, ASSIGN, COMPUTE) is None
    assert first_grant(granted, "Microsoft.Resources/resourceGroups/read", RG10) == elsewhere


def test_the_union_of_roles_across_scopes_is_granted() -> None:
    granted = [assignment(ACR_PULL, SUBSCRIPTION, "p"), assignment(ACR_PUSH, REGISTRY, "q")]

    assert first_grant(granted, PULL, OTHER_REGISTRY) == granted[0]
    assert first_grant(granted, PUSH, OTHER_REGISTRY) is None
    assert first_grant(granted, PUSH, REGISTRY) == granted[1]


def test_no_assignments_grant_nothing() -> None:
    assert first_grant([], "Microsoft.MachineLearningServices/workspaces/read", WORKSPACE) is None
