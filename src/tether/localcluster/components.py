"""Command lines of the local cluster's components: etcd, the three control-plane programs, kwok, podlogs.

Pure: given where the binaries are, the state layout and the ports, return argv tuples. Everything binds
to 127.0.0.1. Choices worth knowing:

* etcd runs with ``--unsafe-no-fsync`` (a disposable test store; ``down`` stops it cleanly);
* the API server's service-account issuer is its own URL, so ``<issuer>/.well-known/openid-configuration``
  and ``/openid/v1/jwks`` are served by it (readable anonymously once bootstrap binds the discovery role);
* the controller-manager and scheduler serve no HTTPS (``--secure-port=0``) and skip leader election;
* kwok is the kubelet of every simulated node: it serves ``pods/log`` over TLS on ``ports.kwok`` and
  the API server reaches it through each node's ``InternalIP`` (127.0.0.1).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tether.localcluster import credentials
from tether.localcluster.paths import ClusterPaths

#: Start order; ``down`` stops them in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "podlogs")

#: Annotation by which kwok manages a node (kwok's own convention).
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE = "fake"

#: The controllers the local cluster does not need (clouds, CSR signing, bootstrap tokens, ...).
_DISABLED_CONTROLLERS = (
    "-bootstrap-signer-controller",
    "-token-cleaner-controller",
    "-certificatesigningrequest-signing-controller",
    "-certificatesigningrequest-approving-controller",
    "-certificatesigningrequest-cleaner-controller",
    "-cloud-node-lifecycle-controller",
    "-service-lb-controller",
    "-node-route-controller",
    "-node-ipam-controller",
    "-persistentvolume-attach-detach-controller",
)


@dataclass(frozen=True)
class Ports:
    """Loopback ports of one cluster run."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    kwok: int

    @property
    def server_url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver}"


def component_env(paths: ClusterPaths) -> dict[str, str]:
    """A minimal, explicit environment: nothing from the caller's environment leaks into a component."""
    package_root = Path(__file__).resolve().parents[3]  # the directory holding the ``tether`` package
    return {
        "HOME": str(paths.home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(package_root),
    }


def _pki(paths: ClusterPaths, name: str) -> str:
    return str(credentials.cert_path(paths, name))


def _key(paths: ClusterPaths, name: str) -> str:
    return str(credentials.key_path(paths, name))


def etcd_argv(bin_dir: Path, paths: ClusterPaths, *, ports: Ports) -> tuple[str, ...]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return (
        str(bin_dir / "etcd"),
        "--name=local",
        f"--data-dir={paths.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=local={peer}",
        "--unsafe-no-fsync=true",
        "--auto-compaction-retention=1",
        "--quota-backend-bytes=2147483648",
        "--log-level=warn",
    )


def apiserver_argv(bin_dir: Path, paths: ClusterPaths, *, ports: Ports) -> tuple[str, ...]:
    issuer = ports.server_url
    sa_key = str(credentials.service_account_key_path(paths))
    return (
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        f"--tls-cert-file={_pki(paths, 'apiserver')}",
        f"--tls-private-key-file={_key(paths, 'apiserver')}",
        f"--client-ca-file={paths.ca_cert}",
        "--anonymous-auth=true",
        "--authorization-mode=Node,RBAC",
        f"--service-account-issuer={issuer}",
        f"--service-account-jwks-uri={issuer}/openid/v1/jwks",
        f"--service-account-key-file={sa_key}",
        f"--service-account-signing-key-file={sa_key}",
        f"--service-cluster-ip-range={credentials.SERVICE_CLUSTER_IP_RANGE}",
        "--allow-privileged=true",
        # Pods asking for nvidia.com/gpu tolerate the GPU nodes' nvidia.com/gpu:NoSchedule taint.
        "--enable-admission-plugins=ExtendedResourceToleration",
        f"--kubelet-client-certificate={_pki(paths, 'apiserver-kubelet-client')}",
        f"--kubelet-client-key={_key(paths, 'apiserver-kubelet-client')}",
        f"--kubelet-certificate-authority={paths.ca_cert}",
        "--kubelet-preferred-address-types=InternalIP",
        # The `kubernetes` Service's endpoints would be 127.0.0.1, which endpoint validation refuses.
        "--endpoint-reconciler-type=none",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        "--v=1",
    )


def controller_manager_argv(bin_dir: Path, paths: ClusterPaths) -> tuple[str, ...]:
    return (
        str(bin_dir / "kube-controller-manager"),
        f"--kubeconfig={paths.component_kubeconfig('kube-controller-manager')}",
        "--secure-port=0",
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--root-ca-file={paths.ca_cert}",
        f"--service-account-private-key-file={credentials.service_account_key_path(paths)}",
        f"--service-cluster-ip-range={credentials.SERVICE_CLUSTER_IP_RANGE}",
        "--controllers=" + ",".join(("*", *_DISABLED_CONTROLLERS)),
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        "--profiling=false",
        "--v=1",
    )


def scheduler_argv(bin_dir: Path, paths: ClusterPaths) -> tuple[str, ...]:
    return (
        str(bin_dir / "kube-scheduler"),
        f"--kubeconfig={paths.component_kubeconfig('kube-scheduler')}",
        "--secure-port=0",
        "--leader-elect=false",
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        "--profiling=false",
        "--v=1",
    )


def kwok_argv(bin_dir: Path, paths: ClusterPaths, *, ports: Ports) -> tuple[str, ...]:
    return (
        str(bin_dir / "kwok"),
        f"--kubeconfig={paths.component_kubeconfig('kwok')}",
        f"--config={paths.kwok_config}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_ANNOTATION_VALUE}",
        "--node-ip=127.0.0.1",
        f"--node-port={ports.kwok}",
        f"--server-address=127.0.0.1:{ports.kwok}",
        f"--tls-cert-file={_pki(paths, 'kwok-serving')}",
        f"--tls-private-key-file={_key(paths, 'kwok-serving')}",
        "--node-lease-duration-seconds=40",
        "--cidr=10.244.0.1/16",
        "--enable-crds=Logs",
    )


def podlogs_argv(paths: ClusterPaths) -> tuple[str, ...]:
    return (
        sys.executable,
        "-m",
        "tether.localcluster.podlogs",
        f"--kubeconfig={paths.component_kubeconfig('podlogs')}",
        f"--log-dir={paths.pod_logs}",
    )


def all_argv(bin_dir: Path, paths: ClusterPaths, *, ports: Ports) -> Mapping[str, tuple[str, ...]]:
    """Every component's argv, keyed in start order."""
    return {
        "etcd": etcd_argv(bin_dir, paths, ports=ports),
        "kube-apiserver": apiserver_argv(bin_dir, paths, ports=ports),
        "kube-controller-manager": controller_manager_argv(bin_dir, paths),
        "kube-scheduler": scheduler_argv(bin_dir, paths),
        "kwok": kwok_argv(bin_dir, paths, ports=ports),
        "podlogs": podlogs_argv(paths),
    }
