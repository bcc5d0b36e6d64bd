"""Kubernetes manifests that install the connect agent in a cluster (pure rendering, no I/O).

``manifests(...)`` returns plain dicts in apply order: Namespace, ServiceAccount, ClusterRoleBinding,
Secret (the credential), ConfigMap (the relay's CA, when given) and the Deployment. With the
placeholder arguments of ``deploy/connect-agent.yaml`` it renders exactly that file (a cluster test
checks this and has the API server validate the objects).

Hazards: the agent is bound to ``cluster-admin`` — like Azure Arc's cluster-connect agent it carries
whatever the control plane asks for, so the control plane's own authorization is what limits it.
One replica with ``Recreate``: a second agent for the same cluster is refused by the relay (4409).
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "azure-arc"
NAME = "tether-connect-agent"
DEFAULT_IMAGE = "tether:0.1.0"
CREDENTIAL_DIR = "/var/run/secrets/tether"
CA_DIR = "/etc/tether/relay-ca"
_LABELS = {"app": NAME, "app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "tether"}

Manifest = dict[str, Any]


def _meta(name: str, namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(_LABELS)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _args(*, relay_url: str, cluster_id: str, with_ca: bool) -> list[str]:
    args = [
        "agent",
        "connect",
        "--in-cluster",
        "--relay-url",
        relay_url,
        "--cluster-id",
        cluster_id,
        "--credential-file",
        f"{CREDENTIAL_DIR}/credential",
    ]
    if with_ca:
        args += ["--ca-file", f"{CA_DIR}/ca.crt"]
    return args


def _deployment(*, namespace: str, image: str, args: list[str], with_ca: bool) -> Manifest:
    mounts: list[dict[str, Any]] = [{"name": "credential", "mountPath": CREDENTIAL_DIR, "readOnly": True}]
    volumes: list[dict[str, Any]] = [
        {"name": "credential", "secret": {"secretName": f"{NAME}-credential", "defaultMode": 0o440}}
    ]
    if with_ca:
        mounts.append({"name": "relay-ca", "mountPath": CA_DIR, "readOnly": True})
        volumes.append({"name": "relay-ca", "configMap": {"name": f"{NAME}-relay-ca"}})
    container = {
        "name": "agent",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["tether"],
        "args": args,
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME, namespace),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": dict(_LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": True,
                    "terminationGracePeriodSeconds": 10,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "fsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def manifests(
    *,
    relay_url: str,
    cluster_id: str,
    credential: str,
    image: str = DEFAULT_IMAGE,
    namespace: str = NAMESPACE,
    ca_pem: str | None = None,
) -> list[Manifest]:
    """The objects that run the agent for ``cluster_id``, dialling ``relay_url`` (``wss://.../relay/connect``)."""
    with_ca = ca_pem is not None
    objects: list[Manifest] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace, None)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, namespace)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(NAME, None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(f"{NAME}-credential", namespace),
            "type": "Opaque",
            "stringData": {"credential": credential},
        },
    ]
    if ca_pem is not None:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _meta(f"{NAME}-relay-ca", namespace),
                "data": {"ca.crt": ca_pem},
            }
        )
    objects.append(
        _deployment(
            namespace=namespace,
            image=image,
            args=_args(relay_url=relay_url, cluster_id=cluster_id, with_ca=with_ca),
            with_ca=with_ca,
        )
    )
    return objects
