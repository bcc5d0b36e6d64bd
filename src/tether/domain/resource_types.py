"""The ARM resource types Tether knows, with their canonical spelling.

ARM compares namespaces and types case-insensitively (the seed writes ``managedclusters``); answers
use the canonical spelling below. A type absent from this table is rejected at the API boundary
with ``InvalidResourceType`` before anything else happens.
"""

from __future__ import annotations

RESOURCE_GROUPS = "Microsoft.Resources/resourceGroups"
WORKSPACES = "Microsoft.MachineLearningServices/workspaces"
COMPUTES = "Microsoft.MachineLearningServices/workspaces/computes"
JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
MANAGED_CLUSTERS = "Microsoft.ContainerService/managedClusters"
CONNECTED_CLUSTERS = "Microsoft.Kubernetes/connectedClusters"
EXTENSIONS = "Microsoft.KubernetesConfiguration/extensions"
RELAY_NAMESPACES = "Microsoft.Relay/namespaces"
HYBRID_CONNECTIONS = "Microsoft.Relay/namespaces/hybridConnections"
USER_ASSIGNED_IDENTITIES = "Microsoft.ManagedIdentity/userAssignedIdentities"
FEDERATED_CREDENTIALS = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITIONS = "Microsoft.Authorization/roleDefinitions"
REGISTRIES = "Microsoft.ContainerRegistry/registries"
STORAGE_ACCOUNTS = "Microsoft.Storage/storageAccounts"
BLOB_CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"
DATASTORES = "Microsoft.MachineLearningServices/workspaces/datastores"
DEPLOYMENTS = "Microsoft.Resources/deployments"
ENVIRONMENTS = "Microsoft.MachineLearningServices/workspaces/environments"
ENVIRONMENT_VERSIONS = "Microsoft.MachineLearningServices/workspaces/environments/versions"
CODES = "Microsoft.MachineLearningServices/workspaces/codes"
CODE_VERSIONS = "Microsoft.MachineLearningServices/workspaces/codes/versions"

KNOWN_TYPES: tuple[str, ...] = (
    RESOURCE_GROUPS,
    WORKSPACES,
    COMPUTES,
    JOBS,
    MANAGED_CLUSTERS,
    CONNECTED_CLUSTERS,
    EXTENSIONS,
    RELAY_NAMESPACES,
    HYBRID_CONNECTIONS,
    "Microsoft.Relay/namespaces/hybridConnections/authorizationRules",
    USER_ASSIGNED_IDENTITIES,
    FEDERATED_CREDENTIALS,
    ROLE_ASSIGNMENTS,
    ROLE_DEFINITIONS,
    REGISTRIES,
    STORAGE_ACCOUNTS,
    BLOB_CONTAINERS,
    DATASTORES,
    DEPLOYMENTS,
    "Microsoft.Resources/deployments/operations",
    ENVIRONMENTS,
    ENVIRONMENT_VERSIONS,
    CODES,
    CODE_VERSIONS,
)

_BY_KEY = {t.lower(): t for t in KNOWN_TYPES}
_NAMESPACES = {t.split("/", 1)[0].lower(): t.split("/", 1)[0] for t in KNOWN_TYPES}


def canonical_type(full_type: str) -> str | None:
    """``microsoft.containerservice/managedclusters`` → ``Microsoft.ContainerService/managedClusters``."""
    return _BY_KEY.get(full_type.lower())


def canonical_namespace(namespace: str) -> str | None:
    """The canonical spelling of a provider namespace Tether serves, or None."""
    return _NAMESPACES.get(namespace.lower())


RELAY_AUTHORIZATION_RULES = "Microsoft.Relay/namespaces/hybridConnections/authorizationRules"
