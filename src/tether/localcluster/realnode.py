"""Start and stop the local cluster's real node: containerd and one kubelet beside the kwok nodes.

``start_real_node`` writes the node's configuration and certificates under ``<state>/node``, starts
containerd, imports the locally built images (``tools/images/build.sh``), starts the kubelet, then
fixes the registered Node (addresses, labels, taints) and waits until it is Ready.
``stop_real_node`` stops the kubelet, kills and deletes every container, stops containerd, kills
whatever is left in the ``/kubepods`` cgroups and unmounts everything under ``<state>/node``.

Hazards: it needs root and writes outside the state directory (cgroups ``/kubepods``, host sysctls the
kubelet sets, ``/var/lib/kubelet/device-plugins``); one real node per host (port 10250, the
``/kubepods`` cgroup): ``/run/tether-real-node.json`` names the cluster that owns it, and a second
cluster's ``up`` fails with one line instead of taking it over.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Node

from tether.errors import TetherError
from tether.localcluster import bootstrap, credentials, kubeversions, nodeconfig, processes
from tether.localcluster.errors import ComponentFailed, RealNodeUnavailable
from tether.localcluster.nodeconfig import NodePaths
from tether.localcluster.paths import ClusterPaths
from tether.pki import KeyPair, issue_certificate, write_pem

REAL_NODE_COMPONENTS = ("containerd", "kubelet")
HOST_RECORD = Path("/run/tether-real-node.json")
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_CTR_TIMEOUT_S = 120.0


def node_paths(paths: ClusterPaths) -> NodePaths:
    return NodePaths(paths.root / "node")


def _marker(paths: ClusterPaths) -> str:
    return str(node_paths(paths).root)


def real_node_alive(paths: ClusterPaths) -> bool:
    return all(processes.probe(c, paths.pid_file(c), marker=_marker(paths)).alive for c in REAL_NODE_COMPONENTS)


def missing_prerequisite(*, bin_dir: Path, images_dir: Path) -> str | None:
    """Why a real node cannot start on this machine (one line), or None when it can."""
    if os.geteuid() != 0:
        return "a real node needs root (containerd, cgroups, mounts)"
    missing = [b for b in kubeversions.NODE_BINARIES if not (bin_dir / b).is_file()]
    if missing:
        return f"real node binaries missing in {bin_dir} ({', '.join(missing)}): run `make kube`"
    if not kubeversions.image_references(images_dir):
        return f"no locally built images in {images_dir}: run `make kube` (tools/images/build.sh)"
    return None


def _check_host(paths: ClusterPaths) -> None:
    """One real node per host: refuse (one line) when another cluster's runs or the port is taken."""
    if os.geteuid() != 0:
        raise RealNodeUnavailable("a real node needs root (containerd, cgroups, mounts); use --real-nodes 0")
    try:
        owner = Path(json.loads(HOST_RECORD.read_text())["state_dir"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        owner = None
    if owner is not None and owner != paths.root and real_node_alive(ClusterPaths(owner)):
        raise RealNodeUnavailable(
            f"a real node already runs on this host for the cluster in {owner}; stop it "
            f"(`tether local-cluster down --state-dir {owner}`) or start this one with --real-nodes 0"
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", nodeconfig.KUBELET_PORT))
        except OSError:
            raise RealNodeUnavailable(
                f"port {nodeconfig.KUBELET_PORT} is taken (another kubelet?); start with --real-nodes 0"
            ) from None


def _ensure_node_pki(paths: ClusterPaths, node: NodePaths) -> tuple[Path, Path, Path, Path]:
    """The kubelet's client (``system:node:<name>``) and serving (IP 127.0.0.1) certificates."""
    pki = node.root / "pki"
    ca = KeyPair(credentials.cert_path(paths, "ca").read_bytes(), credentials.key_path(paths, "ca").read_bytes())
    files = (pki / "client.crt", pki / "client.key", pki / "serving.crt", pki / "serving.key")
    if not all(f.is_file() for f in files):
        name = nodeconfig.REAL_NODE_NAME
        client = issue_certificate(ca, f"system:node:{name}", organization="system:nodes", server=False, client=True)
        serving = issue_certificate(ca, name, dns_names=("localhost", name), ip_addresses=("127.0.0.1",))
        for pair, cert, key in ((client, files[0], files[1]), (serving, files[2], files[3])):
            write_pem(key, pair.key_pem, private=True)
            write_pem(cert, pair.cert_pem)
    return files


def _prepare(paths: ClusterPaths, *, bin_dir: Path, server: str, pause_image: str) -> NodePaths:
    node = node_paths(paths)
    for d in (node.containerd_root, node.containerd_state, node.kubelet_root, node.pod_logs, node.cni_conf_dir):
        d.mkdir(parents=True, exist_ok=True)
    (node.registry_hosts / "_default").mkdir(parents=True, exist_ok=True)
    (node.registry_hosts / "_default" / "hosts.toml").write_text(nodeconfig.registry_hosts_toml())
    (node.cni_conf_dir / "10-loopback.conflist").write_text(nodeconfig.cni_conflist())
    node.resolv_conf.write_text("nameserver 127.0.0.1\n")
    node.containerd_config.write_text(nodeconfig.containerd_config(node, bin_dir=bin_dir, pause_image=pause_image))
    client_crt, client_key, serving_crt, serving_key = _ensure_node_pki(paths, node)
    node.kubelet_config.write_text(
        nodeconfig.kubelet_config(node, ca_file=paths.ca_cert, cert_file=serving_crt, key_file=serving_key)
    )
    kubeconfig = credentials.render_kubeconfig(
        cluster_name=nodeconfig.REAL_NODE_NAME,
        server=server,
        ca_pem=paths.ca_cert.read_bytes(),
        client=KeyPair(client_crt.read_bytes(), client_key.read_bytes()),
    )
    write_pem(node.kubelet_kubeconfig, kubeconfig.encode(), private=True)
    return node


def _ctr(bin_dir: Path, node: NodePaths, *args: str) -> str:
    argv = [str(bin_dir / "ctr"), f"--address={node.socket}", "--namespace=k8s.io", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=_CTR_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise ComponentFailed(f"ctr {' '.join(args[:2])} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def import_images(bin_dir: Path, node: NodePaths, *, archives: list[Path], references: list[str]) -> None:
    """Import the docker archives unless containerd already has every reference."""
    present = set(_ctr(bin_dir, node, "images", "list", "--quiet").split())
    if all(r in present or f"docker.io/{r}" in present for r in references):
        return
    for archive in archives:
        _ctr(bin_dir, node, "images", "import", "--platform=linux/amd64", "--snapshotter=overlayfs", str(archive))


async def _fix_node(client: AsyncClient, *, check: bootstrap.Check, deadline: float) -> None:
    """Addresses, labels and taints of the registered node; then wait until it is Ready."""
    name = nodeconfig.REAL_NODE_NAME

    async def registered() -> bool:
        try:
            await client.get(Node, name)
        except ApiError as e:
            if e.status.code == 404:
                return False
            raise
        return True

    await bootstrap.wait_for(f"node {name} to register", registered, check=check, deadline=deadline)
    node = await client.get(Node, name)
    taints = [t.to_dict() for t in (node.spec.taints or [])] if node.spec else []
    await client.patch(Node, name, nodeconfig.node_patch(taints))
    await client.patch(Node.Status, name, nodeconfig.node_status_patch())

    async def ready() -> bool:
        found = await client.get(Node, name)
        conditions = (found.status.conditions if found.status else None) or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    await bootstrap.wait_for(f"node {name} to be Ready", ready, check=check, deadline=deadline)


async def start_real_node(
    paths: ClusterPaths,
    client: AsyncClient,
    *,
    bin_dir: Path,
    images_dir: Path,
    server: str,
    deadline: float,
) -> None:
    """Start (or keep) the real node of the cluster in ``paths``; returns when the node is Ready."""
    references = (images_dir / "references").read_text().split()
    if real_node_alive(paths):
        await _fix_node(client, check=lambda: None, deadline=deadline)
        return
    _check_host(paths)
    stop_real_node(paths, bin_dir=bin_dir)  # a partial leftover of this cluster: start clean
    node = _prepare(paths, bin_dir=bin_dir, server=server, pause_image=references[-1])
    HOST_RECORD.write_text(json.dumps({"state_dir": str(paths.root)}) + "\n")
    env = nodeconfig.node_env(bin_dir, node)

    def check() -> None:
        for component in REAL_NODE_COMPONENTS:
            info = processes.probe(component, paths.pid_file(component), marker=_marker(paths))
            if info.pid is not None and not info.alive:
                tail = processes.log_tail(paths.component_log(component), lines=15)
                raise ComponentFailed(f"real node: {component} {info.exit_status or 'exited'}:\n{tail}")

    argv = {"containerd": nodeconfig.containerd_argv(bin_dir, node), "kubelet": nodeconfig.kubelet_argv(bin_dir, node)}
    processes.spawn(
        "containerd",
        argv["containerd"],
        env=env,
        log_file=paths.component_log("containerd"),
        pid_file=paths.pid_file("containerd"),
    )

    async def socket_up() -> bool:
        return node.socket.exists()

    await bootstrap.wait_for("containerd's socket", socket_up, check=check, deadline=deadline)
    archives = [images_dir / "base.tar", images_dir / "pause.tar"]
    import_images(bin_dir, node, archives=archives, references=references)
    processes.spawn(
        "kubelet", argv["kubelet"], env=env, log_file=paths.component_log("kubelet"), pid_file=paths.pid_file("kubelet")
    )
    await _fix_node(client, check=check, deadline=deadline)


def _kill_containers(bin_dir: Path, node: NodePaths) -> None:
    with contextlib.suppress(ComponentFailed, OSError, subprocess.TimeoutExpired):
        for task in _ctr(bin_dir, node, "tasks", "list", "--quiet").split():
            with contextlib.suppress(ComponentFailed):
                _ctr(bin_dir, node, "tasks", "kill", "--signal=SIGKILL", task)
            with contextlib.suppress(ComponentFailed):
                _ctr(bin_dir, node, "tasks", "delete", "--force", task)
        for container in _ctr(bin_dir, node, "containers", "list", "--quiet").split():
            with contextlib.suppress(ComponentFailed):
                _ctr(bin_dir, node, "containers", "delete", container)


def _kubepods_cgroups() -> list[Path]:
    """Every cgroup directory under ``/kubepods`` in every v1 hierarchy (and v2), deepest first."""
    found: list[Path] = []
    for hierarchy in _CGROUP_ROOT.iterdir() if _CGROUP_ROOT.is_dir() else []:
        top = hierarchy / "kubepods"
        if top.is_dir():
            found.extend(p for p in top.rglob("*") if p.is_dir())
            found.append(top)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _kill_pids_in(cgroups: list[Path]) -> None:
    for cgroup in cgroups:
        with contextlib.suppress(OSError):
            for pid in (cgroup / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)


def _kill_marked_processes(marker: str) -> None:
    """Shims and anything else started with our node directory in its arguments."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)


def mounts_under(root: Path) -> list[str]:
    """Mount points below ``root`` (from /proc/self/mountinfo), deepest first."""
    prefix = str(root).rstrip("/") + "/"
    points: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix) or point == str(root):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)


def stop_real_node(paths: ClusterPaths, *, bin_dir: Path | None) -> None:
    """Stop the real node and remove its containers, processes and mounts; safe to repeat."""
    node = node_paths(paths)
    marker = _marker(paths)
    processes.stop("kubelet", paths.pid_file("kubelet"), marker=marker)
    if bin_dir is not None and processes.probe("containerd", paths.pid_file("containerd"), marker=marker).alive:
        _kill_containers(bin_dir, node)
    processes.stop("containerd", paths.pid_file("containerd"), marker=marker)
    _kill_marked_processes(marker)
    cgroups = _kubepods_cgroups()
    if cgroups and _owns_host_node(paths):
        for _ in range(20):
            _kill_pids_in(cgroups)
            for cgroup in cgroups:
                with contextlib.suppress(OSError):
                    cgroup.rmdir()
            cgroups = _kubepods_cgroups()
            if not cgroups:
                break
            time.sleep(0.1)
    for point in mounts_under(node.root):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)
    if _owns_host_node(paths):
        HOST_RECORD.unlink(missing_ok=True)


def _owns_host_node(paths: ClusterPaths) -> bool:
    try:
        return Path(json.loads(HOST_RECORD.read_text())["state_dir"]) == paths.root
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return False


_LOOPBACK_LOGIN_SERVER = re.compile(r"^127\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}$")


def trust_registry(paths: ClusterPaths, login_server: str, *, ca_pem: str) -> Path:
    """Let the real node's containerd pull from a Tether registry's login server (``127.0.0.1:<port>``), trusting
    ``ca_pem``; every other registry still maps to the closed port. containerd reads the file at each pull."""
    if not _LOOPBACK_LOGIN_SERVER.fullmatch(login_server):
        raise TetherError(
            f"'{login_server}' is not a loopback login server (127.x.y.z:port): the real node pulls only from "
            "registries on this machine.",
            code="InvalidLoginServer",
        )
    directory = node_paths(paths).registry_hosts / login_server
    directory.mkdir(parents=True, exist_ok=True)
    ca_file = directory / "ca.crt"
    ca_file.write_text(ca_pem)
    hosts = directory / "hosts.toml"
    hosts.write_text(nodeconfig.trusted_registry_hosts_toml(login_server, ca_file=ca_file))
    return hosts
