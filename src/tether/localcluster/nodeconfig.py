"""Configuration of the real node (kubelet + containerd + runc): files and command lines (pure, no I/O).

Everything the node owns lives under ``<state>/node`` (containerd's root, state and socket, the
kubelet's root, pod logs, CNI config, certificates); see docs/local-cluster.md. Choices that were
each needed on this machine kind (cgroup v1 VM without CAP_SYS_RESOURCE) and must not be "tidied":

* containerd: ``restrict_oom_score_adj`` (runc cannot lower ``oom_score_adj`` here), no AppArmor, the
  sandbox image is the locally built pause image, every registry resolves to a closed loopback port
  (``_default/hosts.toml``) so an unknown image fails at once and nothing is pulled from elsewhere;
* kubelet: ``failCgroupV1: false``, cgroupfs driver, loopback-only addresses, webhook authn/authz,
  eviction thresholds at 0 (a busy shared disk must not taint the node), image GC off (imported
  images cannot be pulled again);
* CNI: only the ``loopback`` plugin — pods use the host network (there is no pod network);
* ``--cloud-provider=external``: the kubelet refuses a loopback ``--node-ip``, so the starter writes
  the node's addresses itself and removes the ``uninitialized`` taint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: The kubelet's fixed port: the reason why one host can run only one real node.
KUBELET_PORT = 10250
REAL_NODE_NAME = "real-0"
#: Nodes with this label have no pod network: the operator runs their pods on the host network and
#: tolerates the taint of the same key, which keeps every other pod off the real node.
POD_NETWORK_LABEL = "tether.dev/pod-network"
POD_NETWORK_HOST = "host"
REAL_NODE_LABELS = {
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "node.kubernetes.io/instance-type": "local",
    "type": "real",
    "tether.dev/node-pool": "real",
    POD_NETWORK_LABEL: POD_NETWORK_HOST,
}
REAL_NODE_TAINT = {"key": POD_NETWORK_LABEL, "value": POD_NETWORK_HOST, "effect": "NoSchedule"}
UNINITIALIZED_TAINT_KEY = "node.cloudprovider.kubernetes.io/uninitialized"
#: Every registry host maps here: a closed loopback port, so pulls fail fast and stay on this machine.
CLOSED_REGISTRY = "https://127.0.0.1:9"


@dataclass(frozen=True)
class NodePaths:
    """Named paths of the real node under ``<state>/node``."""

    root: Path

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def socket(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def registry_hosts(self) -> Path:
        return self.root / "containerd" / "certs.d"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet.yaml"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.root / "kubelet.kubeconfig"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def resolv_conf(self) -> Path:
        return self.root / "resolv.conf"


def containerd_config(paths: NodePaths, *, bin_dir: Path, pause_image: str) -> str:
    """containerd 2.x configuration (version 3) as TOML."""
    cri_runtime = 'plugins."io.containerd.cri.v1.runtime"'
    cri_images = 'plugins."io.containerd.cri.v1.images"'
    lines = [
        "version = 3",
        f'root = "{paths.containerd_root}"',
        f'state = "{paths.containerd_state}"',
        'disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.tracing.processor.v1.otlp"]',
        "[grpc]",
        f'  address = "{paths.socket}"',
        "[ttrpc]",
        f'  address = "{paths.socket}.ttrpc"',
        '[plugins."io.containerd.internal.v1.opt"]',
        f'  path = "{paths.root / "containerd" / "opt"}"',
        '[plugins."io.containerd.grpc.v1.cri"]',
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        f"[{cri_images}]",
        '  snapshotter = "overlayfs"',
        f"[{cri_images}.pinned_images]",
        f'  sandbox = "{pause_image}"',
        f"[{cri_images}.registry]",
        f'  config_path = "{paths.registry_hosts}"',
        f"[{cri_runtime}]",
        "  restrict_oom_score_adj = true",
        "  disable_apparmor = true",
        "  netns_mounts_under_state_dir = true",
        f"[{cri_runtime}.cni]",
        f'  bin_dirs = ["{bin_dir}"]',
        f'  conf_dir = "{paths.cni_conf_dir}"',
        f"[{cri_runtime}.containerd.runtimes.runc]",
        '  runtime_type = "io.containerd.runc.v2"',
        f"[{cri_runtime}.containerd.runtimes.runc.options]",
        f'  BinaryName = "{bin_dir / "runc"}"',
        "  SystemdCgroup = false",
    ]
    return "\n".join(lines) + "\n"


def registry_hosts_toml() -> str:
    """``certs.d/_default/hosts.toml``: every registry is the closed loopback port."""
    return f'server = "{CLOSED_REGISTRY}"\n'


def trusted_registry_hosts_toml(login_server: str, *, ca_file: Path) -> str:
    """``certs.d/<login server>/hosts.toml``: pull from that (loopback) registry, trusting its CA."""
    url = f"https://{login_server}"
    return f'server = "{url}"\n\n[host."{url}"]\n  capabilities = ["pull", "resolve"]\n  ca = "{ca_file}"\n'


def cni_conflist() -> str:
    return json.dumps({"cniVersion": "1.0.0", "name": "tether-loopback", "plugins": [{"type": "loopback"}]}, indent=2)


def kubelet_config(paths: NodePaths, *, ca_file: Path, cert_file: Path, key_file: Path) -> str:
    zero = "0%"
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "127.0.0.1",
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 0,
        "tlsCertFile": str(cert_file),
        "tlsPrivateKeyFile": str(key_file),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{paths.socket}",
        "imageServiceEndpoint": f"unix://{paths.socket}",
        "resolvConf": str(paths.resolv_conf),
        "podLogsDir": str(paths.pod_logs),
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": zero, "nodefs.available": zero, "imagefs.available": zero},
        "serializeImagePulls": False,
        "maxPods": 50,
        "registerNode": True,
        "shutdownGracePeriod": "0s",
    }
    return yaml.safe_dump(config, sort_keys=False)


def containerd_argv(bin_dir: Path, paths: NodePaths) -> tuple[str, ...]:
    return (str(bin_dir / "containerd"), f"--config={paths.containerd_config}", "--log-level=warn")


def kubelet_argv(bin_dir: Path, paths: NodePaths) -> tuple[str, ...]:
    return (
        str(bin_dir / "kubelet"),
        f"--config={paths.kubelet_config}",
        f"--kubeconfig={paths.kubelet_kubeconfig}",
        f"--root-dir={paths.kubelet_root}",
        f"--cert-dir={paths.root / 'kubelet-pki'}",
        f"--hostname-override={REAL_NODE_NAME}",
        "--cloud-provider=external",
        "--v=1",
    )


def node_env(bin_dir: Path, paths: NodePaths) -> dict[str, str]:
    """containerd finds its shim on PATH; the kubelet runs mount(8)."""
    return {
        "HOME": str(paths.root),
        "PATH": f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
    }


def node_patch(taints: list[dict[str, Any]]) -> dict[str, Any]:
    """Labels and taints for the registered node: ours in, the cloud provider's ``uninitialized`` out."""
    kept = [t for t in taints if t.get("key") not in (UNINITIALIZED_TAINT_KEY, POD_NETWORK_LABEL)]
    return {"metadata": {"labels": REAL_NODE_LABELS}, "spec": {"taints": [*kept, REAL_NODE_TAINT]}}


def node_status_patch() -> dict[str, Any]:
    return {
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": REAL_NODE_NAME},
            ]
        }
    }
