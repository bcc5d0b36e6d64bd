"""Certificates, the service-account signing key and kubeconfigs of a local cluster.

One CA signs everything: the API server's and kwok's serving certificates and one client certificate
per identity (admin and the components). Material is created once and reused by later ``up`` runs,
so credentials handed out (an admin kubeconfig stored by Tether, say) stay valid across ``down``/``up``;
kubeconfigs are rewritten on every ``up`` because the API server's port may change. Private keys are
written 0600. Hazard: the admin identity is in ``system:masters`` — full control, never revocable
short of deleting the state directory.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import yaml

from tether.localcluster.paths import ClusterPaths
from tether.pki import KeyPair, create_ca, create_rsa_signing_key, issue_certificate, write_pem

#: The service IP range's first address (the ``kubernetes`` Service) and the API server's DNS names.
APISERVER_SERVICE_IP = "10.96.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
_APISERVER_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: the user name (CN) and group (O) the API server sees."""

    user: str
    group: str | None = None


#: Who each kubeconfig authenticates as. The controller-manager and scheduler use their bootstrap
#: RBAC identities; kwok and the pod-log writer are trusted simulators (system:masters).
CLIENT_IDENTITIES: dict[str, ClientIdentity] = {
    "admin": ClientIdentity("tether-local-admin", "system:masters"),
    "kube-controller-manager": ClientIdentity("system:kube-controller-manager"),
    "kube-scheduler": ClientIdentity("system:kube-scheduler"),
    "kwok": ClientIdentity("system:kwok-controller", "system:masters"),
    "podlogs": ClientIdentity("system:tether-podlogs", "system:masters"),
    "apiserver-kubelet-client": ClientIdentity("kube-apiserver-kubelet-client", "system:masters"),
}
#: The identities that get a kubeconfig (the kubelet client certificate is handed to the API server directly).
_KUBECONFIG_USERS = ("admin", "kube-controller-manager", "kube-scheduler", "kwok", "podlogs")


def cert_path(paths: ClusterPaths, name: str) -> Path:
    return paths.pki / f"{name}.crt"


def key_path(paths: ClusterPaths, name: str) -> Path:
    return paths.pki / f"{name}.key"


def service_account_key_path(paths: ClusterPaths) -> Path:
    return paths.pki / "service-account.key"


def _load(paths: ClusterPaths, name: str) -> KeyPair | None:
    cert, key = cert_path(paths, name), key_path(paths, name)
    if cert.is_file() and key.is_file():
        return KeyPair(cert.read_bytes(), key.read_bytes())
    return None


def _store(paths: ClusterPaths, name: str, *, pair: KeyPair) -> KeyPair:
    write_pem(key_path(paths, name), pair.key_pem, private=True)
    write_pem(cert_path(paths, name), pair.cert_pem)
    return pair


def ensure_pki(paths: ClusterPaths, *, cluster_name: str) -> None:
    """Create whatever certificate or key is missing; keep what exists."""
    ca = _load(paths, "ca") or _store(paths, "ca", pair=create_ca(f"tether-local-{cluster_name}-ca"))
    if _load(paths, "apiserver") is None:
        _store(
            paths,
            "apiserver",
            pair=issue_certificate(
                ca,
                "kube-apiserver",
                dns_names=_APISERVER_DNS,
                ip_addresses=("127.0.0.1", APISERVER_SERVICE_IP),
            ),
        )
    if _load(paths, "kwok-serving") is None:
        _store(
            paths,
            "kwok-serving",
            pair=issue_certificate(ca, "kwok", dns_names=("localhost",), ip_addresses=("127.0.0.1",)),
        )
    for name, identity in CLIENT_IDENTITIES.items():
        if _load(paths, name) is None:
            pair = issue_certificate(ca, identity.user, organization=identity.group, server=False, client=True)
            _store(paths, name, pair=pair)
    sa_key = service_account_key_path(paths)
    if not sa_key.is_file():
        write_pem(sa_key, create_rsa_signing_key(), private=True)


def render_kubeconfig(*, cluster_name: str, server: str, ca_pem: bytes, client: KeyPair) -> str:
    """A kubeconfig with one cluster, user and context, all credentials embedded (portable as a file)."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    context = f"tether-local-{cluster_name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}],
        "users": [
            {
                "name": context,
                "user": {
                    "client-certificate-data": b64(client.cert_pem),
                    "client-key-data": b64(client.key_pem),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_kubeconfigs(paths: ClusterPaths, *, cluster_name: str, server: str) -> None:
    """(Re)write the admin kubeconfig and one per component for the API server at ``server``."""
    ca_pem = cert_path(paths, "ca").read_bytes()
    for name in _KUBECONFIG_USERS:
        pair = _load(paths, name)
        if pair is None:
            raise FileNotFoundError(f"missing client certificate {cert_path(paths, name)}")
        text = render_kubeconfig(cluster_name=cluster_name, server=server, ca_pem=ca_pem, client=pair)
        target = paths.admin_kubeconfig if name == "admin" else paths.component_kubeconfig(name)
        write_pem(target, text.encode(), private=True)
