"""The ML extension operator's RBAC: its ClusterRoles, namespaced Role and their bindings (pure: no I/O).

Hazard: this is the operator's whole power in the cluster, so a new verb is a security decision
(docs/ml-extension.md says why each one exists). ``tether.kube.extension_manifests.render`` puts these
into the installation, after the operator's ServiceAccount.

Import cycle, on purpose: ``extension_manifests`` imports this module for ``render`` and this module
imports it back as a module object, reading its constants only inside functions, so either may be
imported first. Keep it that way (no ``from ... import NAME`` of those constants here).
"""

from __future__ import annotations

from typing import Any

from tether.kube import extension_manifests as m


def _rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def rbac(config: m.ExtensionConfig) -> list[dict[str, Any]]:
    """Least privilege for the operator; docs/ml-extension.md gives the reason for every rule."""
    ns = config.namespace
    cluster_rules = [
        _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get"], list(m.CRD_NAMES)),
        _rule([m.INSTANCE_TYPE_GROUP], [m.INSTANCE_TYPE_PLURAL], ["get", "list", "watch"]),
        _rule([m.JOB_GROUP], [m.JOB_PLURAL], ["get", "list", "watch"]),
        _rule([m.JOB_GROUP], [f"{m.JOB_PLURAL}/status"], ["get", "update", "patch"]),
        _rule([m.JOB_GROUP], [f"{m.JOB_PLURAL}/finalizers"], ["update"]),
        _rule([""], ["nodes"], ["get", "list", "watch"]),
    ]
    workload_rules = [
        _rule([""], ["pods"], ["get", "list", "watch", "create", "delete"]),
        _rule([""], ["serviceaccounts"], ["get", "create", "patch"]),
        _rule([""], ["serviceaccounts/token"], ["create"]),
        _rule(["", "events.k8s.io"], ["events"], ["create"]),
    ]
    own_rules = [
        _rule(["coordination.k8s.io"], ["leases"], ["create"]),
        _rule(["coordination.k8s.io"], ["leases"], ["get", "update", "patch"], [m.HEARTBEAT_LEASE_NAME]),
        _rule([""], ["configmaps"], ["create"]),
        _rule([""], ["configmaps"], ["get", "update", "patch"], [m.STATUS_CONFIG_MAP_NAME]),
        _rule([""], ["configmaps"], ["get", "list", "watch"], [m.CONFIG_MAP_NAME]),
    ]
    subject = [{"kind": "ServiceAccount", "name": m.SERVICE_ACCOUNT_NAME, "namespace": ns}]
    rbac_api = "rbac.authorization.k8s.io/v1"

    def binding(kind: str, name: str, role_kind: str, namespace: str | None = None) -> dict[str, Any]:
        role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name}
        return {
            "apiVersion": rbac_api,
            "kind": kind,
            "metadata": m.object_meta(name, namespace=namespace),
            "roleRef": role_ref,
            "subjects": subject,
        }

    return [
        {
            "apiVersion": rbac_api,
            "kind": "ClusterRole",
            "metadata": m.object_meta(m.CLUSTER_ROLE_NAME),
            "rules": cluster_rules,
        },
        {
            "apiVersion": rbac_api,
            "kind": "ClusterRole",
            "metadata": m.object_meta(m.WORKLOADS_CLUSTER_ROLE_NAME),
            "rules": workload_rules,
        },
        binding("ClusterRoleBinding", m.CLUSTER_ROLE_NAME, "ClusterRole"),
        binding("ClusterRoleBinding", m.WORKLOADS_CLUSTER_ROLE_NAME, "ClusterRole"),
        {
            "apiVersion": rbac_api,
            "kind": "Role",
            "metadata": m.object_meta(m.EXTENSION_NAME, namespace=ns),
            "rules": own_rules,
        },
        binding("RoleBinding", m.EXTENSION_NAME, "Role", ns),
    ]
