"""Building resource ids on the client side (the server validates them; these only format)."""

from __future__ import annotations

from tether.client.profile import Profile


def subscription(profile: Profile) -> str:
    return f"/subscriptions/{profile.subscription_id}"


def resource_group(profile: Profile, name: str) -> str:
    return f"{subscription(profile)}/resourceGroups/{name}"


def workspace(profile: Profile, group: str, name: str) -> str:
    return f"{resource_group(profile, group)}/providers/Microsoft.MachineLearningServices/workspaces/{name}"


def user_assigned_identity(profile: Profile, group: str, name: str) -> str:
    return f"{resource_group(profile, group)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"


def federated_credential(profile: Profile, group: str, identity: str, name: str) -> str:
    return f"{user_assigned_identity(profile, group, identity)}/federatedIdentityCredentials/{name}"


def scope(text: str) -> str:
    """A scope as typed (with or without the leading '/', any case) as a path; the server validates it."""
    return "/" + text.strip().strip("/")


def role_definitions(profile: Profile) -> str:
    return f"{subscription(profile)}/providers/Microsoft.Authorization/roleDefinitions"


def role_definition(profile: Profile, guid: str) -> str:
    return f"{role_definitions(profile)}/{guid}"


def role_assignments(scope_id: str) -> str:
    return f"{scope(scope_id)}/providers/Microsoft.Authorization/roleAssignments"


def role_assignment(scope_id: str, name: str) -> str:
    return f"{role_assignments(scope_id)}/{name}"


def check_access(scope_id: str) -> str:
    return f"{scope(scope_id)}/providers/Microsoft.Authorization/checkAccess"


def managed_cluster(profile: Profile, group: str, name: str) -> str:
    return f"{resource_group(profile, group)}/providers/Microsoft.ContainerService/managedClusters/{name}"


def connected_cluster(profile: Profile, group: str, name: str) -> str:
    return f"{resource_group(profile, group)}/providers/Microsoft.Kubernetes/connectedClusters/{name}"


def cluster(profile: Profile, group: str, name: str, *, cluster_type: str) -> str:
    """A cluster id from az's ``--cluster-type managedClusters|connectedClusters``."""
    if cluster_type.lower() == "managedclusters":
        return managed_cluster(profile, group, name)
    return connected_cluster(profile, group, name)


def extension(cluster_id: str, name: str) -> str:
    return f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/{name}"


def compute(profile: Profile, group: str, workspace_name: str, name: str) -> str:
    return f"{workspace(profile, group, workspace_name)}/computes/{name}"


def job(profile: Profile, group: str, workspace_name: str, name: str) -> str:
    return f"{workspace(profile, group, workspace_name)}/jobs/{name}"


def group_or_subscription(profile: Profile, group: str | None) -> str:
    """Where a ``list`` looks: the resource group when one is given, else the whole subscription."""
    return resource_group(profile, group) if group else subscription(profile)
