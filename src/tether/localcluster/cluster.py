"""Start, stop and inspect a local cluster: the orchestration behind the CLI and the pytest fixtures.

``start_cluster`` prepares the state directory (certificates, kubeconfigs, kwok config), starts etcd and
the API server, waits for ``/readyz``, starts the controller-manager and scheduler, applies the bootstrap
objects, starts kwok and the pod-log writer, creates the simulated nodes and returns once they are
Ready and the controller-manager has created ``default/default``. If anything dies or times out, every
process it started is stopped again and the error quotes the failing component's log tail.

Processes outlive the caller (``up`` returns); ``stop_cluster`` ends them from any process. Hazards: a
second ``start_cluster`` on the same state directory while one runs returns the running cluster
(it does not start twice); ``stop_cluster`` blocks for up to ~15 s per stubborn component.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.config.models import Cluster, User

from tether.localcluster import bootstrap, credentials, kubeversions, processes
from tether.localcluster.components import COMPONENTS, Ports, all_argv, component_env
from tether.localcluster.errors import BinariesMissing, ClusterNotFound, ComponentFailed
from tether.localcluster.nodes import desired_nodes
from tether.localcluster.paths import DEFAULT_CLUSTER_NAME, ClusterPaths
from tether.localcluster.podlogs import EMPTY_LOG_NAME
from tether.localcluster.realnode import REAL_NODE_COMPONENTS, start_real_node, stop_real_node
from tether.localcluster.state import ClusterRecord, choose_ports, read_record, write_record

_CONTROL_PLANE = ("etcd", "kube-apiserver")
_CONTROLLERS = ("kube-controller-manager", "kube-scheduler")
_SIMULATORS = ("kwok", "podlogs")


@dataclass(frozen=True)
class LocalClusterSpec:
    """How to run one local cluster; built by an entry point (CLI, fixture) and passed in."""

    state_dir: Path
    bin_dir: Path
    name: str = DEFAULT_CLUSTER_NAME
    cpu_nodes: int = 2
    gpu_nodes: int = 1
    ready_timeout: float = 60.0
    #: 0 or 1: a kubelet + containerd node that really runs containers (needs root; one per host).
    real_nodes: int = 0
    #: ``tools/kube/build_node.sh``'s and ``tools/images/build.sh``'s output (needed when real_nodes).
    node_bin_dir: Path | None = None
    images_dir: Path | None = None
    #: Extra time for the real node (image import, kubelet registration) beyond ready_timeout.
    real_node_timeout: float = 90.0


@dataclass(frozen=True)
class LocalCluster:
    """A running (or last-run) local cluster: where to reach it and with which credentials."""

    name: str
    state_dir: Path
    ports: Ports
    cpu_nodes: int
    gpu_nodes: int
    real_nodes: int = 0

    @property
    def paths(self) -> ClusterPaths:
        return ClusterPaths(self.state_dir)

    @property
    def server_url(self) -> str:
        return self.ports.server_url

    @property
    def issuer_url(self) -> str:
        """The service-account token issuer; its OIDC discovery document is served anonymously."""
        return self.ports.server_url

    @property
    def kubeconfig_path(self) -> Path:
        """The admin kubeconfig (``system:masters``, credentials embedded)."""
        return self.paths.admin_kubeconfig

    @property
    def ca_path(self) -> Path:
        return self.paths.ca_cert

    def kubeconfig(self) -> KubeConfig:
        return KubeConfig.from_file(self.kubeconfig_path)

    def client(self, *, namespace: str | None = None, field_manager: str | None = None) -> AsyncClient:
        """A new admin lightkube client; the caller closes it (``async with`` or ``await c.close()``)."""
        return AsyncClient(config=self.kubeconfig(), namespace=namespace, field_manager=field_manager, trust_env=False)

    def client_for_token(self, token: str, *, namespace: str | None = None) -> AsyncClient:
        """A lightkube client that authenticates with a bearer token (e.g. a service account's)."""
        config = KubeConfig.from_one(
            cluster=Cluster(server=self.server_url, certificate_auth=str(self.ca_path)),
            user=User(token=token),
            namespace=namespace,
        )
        return AsyncClient(config=config, namespace=namespace, trust_env=False)


@dataclass(frozen=True)
class ComponentStatus:
    component: str
    pid: int | None
    alive: bool
    log_file: Path


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    state_dir: Path
    server_url: str | None
    components: tuple[ComponentStatus, ...]

    @property
    def running(self) -> bool:
        return all(c.alive for c in self.components)

    @property
    def stopped(self) -> bool:
        return not any(c.alive for c in self.components)


def locate_binaries(bin_dir: Path) -> Path:
    """``bin_dir`` if it holds every binary, else :class:`BinariesMissing` saying how to build them."""
    missing = [b for b in kubeversions.BINARIES if not (bin_dir / b).is_file()]
    if missing:
        raise BinariesMissing(
            f"local cluster binaries missing in {bin_dir}: {', '.join(missing)}. "
            "Build them with `make kube` (or `tools/kube/build.sh`; needs Go 1.26, ~6 min cold)."
        )
    return bin_dir


def _marker(paths: ClusterPaths) -> str:
    # Every component's argv mentions the state directory; used to recognise our processes.
    return str(paths.root)


def get_cluster_status(state_dir: Path) -> ClusterStatus:
    paths = ClusterPaths(state_dir)
    record = read_record(paths)
    names = COMPONENTS + (REAL_NODE_COMPONENTS if record and record.real_nodes else ())
    components = tuple(
        ComponentStatus(component=info.component, pid=info.pid, alive=info.alive, log_file=paths.component_log(c))
        for c in names
        for info in [processes.probe(c, paths.pid_file(c), marker=_marker(paths))]
    )
    return ClusterStatus(
        name=record.name if record else state_dir.name,
        state_dir=state_dir,
        server_url=record.ports.server_url if record else None,
        components=components,
    )


def load_cluster(state_dir: Path) -> LocalCluster:
    """The cluster recorded under ``state_dir`` (whether or not it runs)."""
    record = read_record(ClusterPaths(state_dir))
    if record is None:
        raise ClusterNotFound(f"no local cluster in {state_dir}; start one with `tether local-cluster up`")
    return LocalCluster(
        name=record.name,
        state_dir=state_dir,
        ports=record.ports,
        cpu_nodes=record.cpu_nodes,
        gpu_nodes=record.gpu_nodes,
        real_nodes=record.real_nodes,
    )


def stop_cluster(state_dir: Path, *, purge: bool = False) -> None:
    """Stop every component (reverse start order) and optionally delete the state directory."""
    paths = ClusterPaths(state_dir)
    record = read_record(paths)
    if record is None or record.real_nodes or record.node_bin_dir:
        stop_real_node(paths, bin_dir=record.node_bin_dir if record else None)
    for component in reversed(COMPONENTS):
        processes.stop(component, paths.pid_file(component), marker=_marker(paths))
    if purge and state_dir.is_dir():
        shutil.rmtree(state_dir)


class _Launcher:
    """Starts components and checks that none of those started so far has died."""

    def __init__(self, paths: ClusterPaths, argv: dict[str, tuple[str, ...]]) -> None:
        self._paths = paths
        self._argv = argv
        self._env = component_env(paths)
        self.started: list[str] = []

    def start(self, *components: str) -> None:
        for component in components:
            processes.spawn(
                component,
                self._argv[component],
                env=self._env,
                log_file=self._paths.component_log(component),
                pid_file=self._paths.pid_file(component),
            )
            self.started.append(component)

    def check(self) -> None:
        for component in self.started:
            info = processes.probe(component, self._paths.pid_file(component), marker=_marker(self._paths))
            if not info.alive:
                how = info.exit_status or "exited"
                tail = processes.log_tail(self._paths.component_log(component))
                raise ComponentFailed(
                    f"local cluster: {component} {how}; last lines of {self._paths.component_log(component)}:\n{tail}"
                )


def _prepare(spec: LocalClusterSpec, paths: ClusterPaths, ports: Ports) -> None:
    for directory in (paths.root, paths.logs, paths.run, paths.home, paths.pod_logs, paths.etcd_data):
        directory.mkdir(parents=True, exist_ok=True)
    paths.etcd_data.chmod(0o700)  # etcd refuses a data directory others can read
    credentials.ensure_pki(paths, cluster_name=spec.name)
    credentials.write_kubeconfigs(paths, cluster_name=spec.name, server=ports.server_url)
    empty_log = paths.pod_logs / EMPTY_LOG_NAME
    empty_log.touch()
    paths.kwok_config.parent.mkdir(parents=True, exist_ok=True)
    paths.kwok_config.write_text(bootstrap.kwok_config_text(empty_log=empty_log))
    _write_record(spec, paths, ports=ports, bin_dir=spec.bin_dir)


def _write_record(spec: LocalClusterSpec, paths: ClusterPaths, *, ports: Ports, bin_dir: Path) -> None:
    record = ClusterRecord(
        name=spec.name,
        ports=ports,
        bin_dir=bin_dir,
        cpu_nodes=spec.cpu_nodes,
        gpu_nodes=spec.gpu_nodes,
        real_nodes=spec.real_nodes,
        node_bin_dir=spec.node_bin_dir,
    )
    write_record(paths, record)


async def _converge(cluster: LocalCluster, launcher: _Launcher, *, deadline: float) -> None:
    """Apply nodes and wait until they are Ready and the controller-manager is working."""
    nodes = desired_nodes(cpu_nodes=cluster.cpu_nodes, gpu_nodes=cluster.gpu_nodes)
    names = [n.metadata.name for n in nodes if n.metadata and n.metadata.name]
    async with cluster.client() as client:
        await bootstrap.reconcile_nodes(client, nodes, kubelet_port=cluster.ports.kwok)
        await bootstrap.wait_for_nodes_ready(client, names, check=launcher.check, deadline=deadline)
        await bootstrap.wait_for_node_leases(client, names, check=launcher.check, deadline=deadline)
        await bootstrap.wait_for_default_service_account(client, check=launcher.check, deadline=deadline)


async def _converge_real_node(spec: LocalClusterSpec, cluster: LocalCluster, *, deadline: float) -> None:
    if not spec.real_nodes:
        stop_real_node(cluster.paths, bin_dir=spec.node_bin_dir)
        return
    if spec.node_bin_dir is None or spec.images_dir is None:
        raise BinariesMissing("a real node needs node_bin_dir and images_dir (`make node-images`)")
    async with cluster.client() as client:
        await start_real_node(
            cluster.paths,
            client,
            bin_dir=spec.node_bin_dir,
            images_dir=spec.images_dir,
            server=cluster.server_url,
            deadline=deadline,
        )


def _cluster(spec: LocalClusterSpec, ports: Ports) -> LocalCluster:
    return LocalCluster(
        name=spec.name,
        state_dir=spec.state_dir,
        ports=ports,
        cpu_nodes=spec.cpu_nodes,
        gpu_nodes=spec.gpu_nodes,
        real_nodes=spec.real_nodes,
    )


async def start_cluster(spec: LocalClusterSpec) -> LocalCluster:
    """Start the cluster described by ``spec`` (or return it if it already runs) and wait until ready."""
    bin_dir = locate_binaries(spec.bin_dir)
    paths = ClusterPaths(spec.state_dir)
    deadline = time.monotonic() + spec.ready_timeout
    status = get_cluster_status(spec.state_dir)
    record = read_record(paths)
    control_plane_running = all(c.alive for c in status.components if c.component in COMPONENTS)
    if control_plane_running and record is not None:
        # Already up: leave the processes alone, only converge the node set (counts may differ).
        cluster = _cluster(spec, record.ports)
        launcher = _Launcher(paths, {})
        launcher.started.extend(COMPONENTS)
        _write_record(spec, paths, ports=record.ports, bin_dir=bin_dir)
        await _converge(cluster, launcher, deadline=deadline)
        await _converge_real_node(spec, cluster, deadline=deadline + spec.real_node_timeout)
        return cluster
    if not status.stopped:
        stop_cluster(spec.state_dir)  # a partial leftover: start over cleanly

    ports = choose_ports(record.ports if record else None)
    _prepare(spec, paths, ports)
    cluster = _cluster(spec, ports)
    launcher = _Launcher(paths, dict(all_argv(bin_dir, paths, ports=ports)))
    try:
        launcher.start(*_CONTROL_PLANE)
        await bootstrap.wait_for(
            "etcd",
            lambda: bootstrap.http_ok(f"http://127.0.0.1:{ports.etcd_client}/health"),
            check=launcher.check,
            deadline=deadline,
        )
        await bootstrap.wait_for(
            "kube-apiserver /readyz",
            lambda: bootstrap.http_ok(f"{ports.server_url}/readyz", ca_file=paths.ca_cert),
            check=launcher.check,
            deadline=deadline,
        )
        launcher.start(*_CONTROLLERS)
        async with cluster.client() as client:
            await bootstrap.wait_for_default_namespace(client, check=launcher.check, deadline=deadline)
            await bootstrap.bind_issuer_discovery_to_unauthenticated(client)
            await bootstrap.install_kwok_logs_crd(client, check=launcher.check, deadline=deadline)
            await bootstrap.release_node_leases(client)
        launcher.start(*_SIMULATORS)
        await _converge(cluster, launcher, deadline=deadline)
        launcher.check()
        await _converge_real_node(spec, cluster, deadline=deadline + spec.real_node_timeout)
    except BaseException:
        stop_cluster(spec.state_dir)
        raise
    return cluster
