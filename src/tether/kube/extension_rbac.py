"""The ML extension operator's RBAC: its ClusterRoles, namespaced Role and their bindings (pure: no I/O).

Hazard: this is the operator's whole power in the cluster, so a new verb is a security decision
(docs/ml-extension.md says why each one exists). ``tether.kube.extension_manifests.render`` puts these
into the installation, after the operator's ServiceAccount; the names come from
``tether.kube.extension_names``.
"""

from __future__ import annotations

from typing import Any

from tether.kube.extension_names import (
    CLUSTER_ROLE_NAME,
    CONFIG_MAP_NAME,
    CRD_NAMES,
    EXTENSION_NAME,
    HEARTBEAT_LEASE_NAME,
    INSTANCE_TYPE_GROUP,
    INSTANCE_TYPE_PLURAL,
    JOB_GROUP,
    JOB_PLURAL,
    SERVICE_ACCOUNT_NAME,
    STATUS_CONFIG_MAP_NAME,
    WORKLOADS_CLUSTER_ROLE_NAME,
    object_meta,
)


def _rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def rbac(release_namespace: str) -> list[dict[str, Any]]:
    """Least privilege for the operator; docs/ml-extension.md gives the reason for every rule."""
    cluster_rules = [
        _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get"], list(CRD_NAMES)),
        _rule([INSTANCE_TYPE_GROUP], [INSTANCE_TYPE_PLURAL], ["get", "list", "watch"]),
        _rule([JOB_GROUP], [JOB_PLURAL], ["get", "list", "watch"]),
        _rule([JOB_GROUP], [f"{JOB_PLURAL}/status"], ["get", "update", "patch"]),
        _rule([JOB_GROUP], [f"{JOB_PLURAL}/finalizers"], ["update"]),
        _rule([""], ["nodes"], ["get", "list", "watch"]),
    ]
    workload_rules = [
        _rule([""], ["pods"], ["get", "list", "watch", "create", "delete"]),
        _rule([""], ["pods/log"], ["get"]),
        _rule([""], ["serviceaccounts"], ["get", "create", "patch"]),
        _rule([""], ["serviceaccounts/token"], ["create"]),
        _rule([""], ["secrets"], ["create", "update"]),  # jobs' image-pull secrets (agents/extension/pull_secrets.py)
        _rule(["", "events.k8s.io"], ["events"], ["create"]),
    ]
    own_rules = [
        _rule(["coordination.k8s.io"], ["leases"], ["create"]),
        _rule(["coordination.k8s.io"], ["leases"], ["get", "update", "patch"], [HEARTBEAT_LEASE_NAME]),
        _rule([""], ["configmaps"], ["create"]),
        _rule([""], ["configmaps"], ["get", "update", "patch"], [STATUS_CONFIG_MAP_NAME]),
        _rule([""], ["configmaps"], ["get", "list", "watch"], [CONFIG_MAP_NAME]),
    ]
    subject = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT_NAME, "namespace": release_namespace}]
    rbac_api = "rbac.authorization.k8s.io/v1"

    def binding(kind: str, name: str, role_kind: str, namespace: str | None = None) -> dict[str, Any]:
        role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name}
        return {
            "apiVersion": rbac_api,
            "kind": kind,
            "metadata": object_meta(name, namespace=namespace),
            "roleRef": role_ref,
            "subjects": subject,
        }

    return [
        {
            "apiVersion": rbac_api,
            "kind": "ClusterRole",
            "metadata": object_meta(CLUSTER_ROLE_NAME),
            "rules": cluster_rules,
        },
        {
            "apiVersion": rbac_api,
            "kind": "ClusterRole",
            "metadata": object_meta(WORKLOADS_CLUSTER_ROLE_NAME),
            "rules": workload_rules,
        },
        binding("ClusterRoleBinding", CLUSTER_ROLE_NAME, "ClusterRole"),
        binding("ClusterRoleBinding", WORKLOADS_CLUSTER_ROLE_NAME, "ClusterRole"),
        {
            "apiVersion": rbac_api,
            "kind": "Role",
            "metadata": object_meta(EXTENSION_NAME, namespace=release_namespace),
            "rules": own_rules,
        },
        binding("RoleBinding", EXTENSION_NAME, "Role", release_namespace),
    ]
