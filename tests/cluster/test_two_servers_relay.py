"""A connected cluster through either of two servers on one PostgreSQL: the replica without the tunnel
forwards to the one holding it (decision 0018).

The two servers share the database, the shared files and the public URL (so tokens and the agent's relay
URL are the same on both), but listen on ports of their own, so that the test knows which one it talks
to: the agent dials the public URL, i.e. server A, so A holds the tunnel; every call made to B for that
cluster must cross to A through B's forwarding and A's internal endpoint. The job's dispatch and status
polls run on whichever replica leases them (both, over the run); its logs are then read through B, where
nothing but forwarding can produce them, and revoking the agent's credential through B drops the tunnel A
holds.
"""

from __future__ import annotations

import os
import shutil
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import yaml
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.cluster.conftest import AZUREML, Cli, log_in, stop_local_agents
from tests.cluster.test_two_servers import SHARED_FILES, Database, _free_port, postgres_url  # noqa: F401
from tether.client import TetherClient
from tether.client.profile import load_profile
from tether.localcluster import SIMULATE_DURATION_ANNOTATION, SIMULATE_LOG_ANNOTATION, LocalCluster
from tether.server_process import ServerProcess

pytestmark = pytest.mark.cluster

RG, WS, CLUSTER, COMPUTE, JOB = "relay-ha-rg", "relay-ha-ws", "relay-ha-arc", "relay-ha-edge", "relay-ha-job"


@dataclass
class Pair:
    holder: ServerProcess  # A: the public URL's server, which the agent reaches
    other: ServerProcess  # B: its own port, the same public URL
    other_port: int
    database: Database


@pytest.fixture(scope="module")
def pair(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:  # noqa: F811
    database = Database(postgres_url)
    root = tmp_path_factory.mktemp("relay-replicas")
    port_a, port_b = _free_port(), _free_port()
    public = f"https://127.0.0.1:{port_a}"
    common = ("--db-url", database.url, "--public-url", public)
    servers: list[ServerProcess] = []
    try:
        servers.append(ServerProcess.start(root / "a", extra_args=("--port", str(port_a), *common)))
        (root / "b").mkdir()
        for name in SHARED_FILES:
            shutil.copy2(root / "a" / name, root / "b" / name)
        other = ServerProcess.start(root / "b", extra_args=("--port", str(port_b), *common))
        servers.append(other)
        yield Pair(servers[0], other, port_b, database)
    finally:
        for server in servers:
            server.stop()
        database.close()


class _ToPort(httpx2.HTTPTransport):
    """Sends every request to one port of the host, whatever the URL says (as a load balancer's choice)."""

    def __init__(self, port: int, ca_file: str) -> None:
        super().__init__(verify=ssl.create_default_context(cafile=ca_file))
        self._port = port

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.url = request.url.copy_with(port=self._port)
        return super().handle_request(request)


def _client_of(cli: Cli, server: ServerProcess, port: int) -> TetherClient:
    """The CLI's principal (the public URL in its profile), every request of it reaching ``port``."""
    return TetherClient(load_profile(cli.config_dir), transport=_ToPort(port, server.ca_file))


def _wait(what: str, check: Callable[[], bool], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.2)


def test_a_connected_cluster_is_used_through_the_replica_without_its_tunnel(
    pair: Pair, local_cluster: LocalCluster, tmp_path: Path
) -> None:
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    namespace = f"relay-ha-{os.getpid()}"
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    config_dir = tmp_path / "config"
    kubeconfig = local_cluster.kubeconfig_path
    try:
        cli = log_in(pair.holder, config_dir)
        cli.line(f"group create -n {RG} -l westeurope -o none")
        cli.line(f"ml workspace create -n {WS} -g {RG} -o none")
        cli.line(f"connectedk8s connect -g {RG} -n {CLUSTER} --kubeconfig {kubeconfig} --agent-process -o none")
        via_b = _client_of(cli, pair.other, pair.other_port)
        group = f"/subscriptions/{via_b.profile.subscription_id}/resourceGroups/{RG}"
        cluster_id = f"{group}/providers/Microsoft.Kubernetes/connectedClusters/{CLUSTER}"
        _wait("Connected", lambda: via_b.get(cluster_id)["properties"]["connectivityStatus"] == "Connected")
        [record] = pair.database.rows(
            "SELECT holder, url FROM relay_tunnels WHERE cluster_key = $1", cluster_id.lower()
        )
        assert int(record["holder"].split(":")[1]) == pair.holder.process.pid  # A holds the tunnel
        assert record["url"].startswith("https://127.0.0.1:")

        # The extension's install, the attach and the job's dispatch run on either replica, through the tunnel.
        cli.line(
            f"k8s-extension create --name azureml --extension-type {AZUREML} --config enableTraining=True "
            f"--cluster-type connectedClusters --cluster-name {CLUSTER} --resource-group {RG} --scope cluster "
            f"--operator-process --kubeconfig {kubeconfig} -o none"
        )
        cli.line(
            f"ml compute attach -g {RG} -w {WS} --type Kubernetes -n {COMPUTE} --namespace {namespace} "
            f"--resource-id {cluster_id} -o none"
        )
        job = {
            "type": "command",
            "command": "python train.py",
            "environment": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"},
            "compute": f"azureml:{COMPUTE}",
            "resources": {"instance_count": 1},
            "tags": {SIMULATE_DURATION_ANNOTATION: "1s", SIMULATE_LOG_ANNOTATION: "through the other replica\n"},
        }
        job_file = tmp_path / "job.yml"
        job_file.write_text(yaml.safe_dump(job))
        cli.line(f"ml job create -f {job_file} -g {RG} -w {WS} -n {JOB} -o none")
        job_id = f"{group}/providers/Microsoft.MachineLearningServices/workspaces/{WS}/jobs/{JOB}"
        terminal = ("Completed", "Failed", "Canceled")
        _wait("the job's end", lambda: via_b.get(job_id)["properties"]["status"] in terminal, timeout=90)
        assert via_b.get(job_id)["properties"]["status"] == "Completed"

        # B has no tunnel: the log lines can only come from A's, forwarded.
        assert list(via_b.stream_lines(job_id + "/logs")) == ["through the other replica"]
        assert "relay: cluster" not in (pair.other.data_dir / "server.log").read_text()  # B never admitted it

        # Revoking through B drops the tunnel A holds; the agent's old credential is refused from then on.
        assert via_b.post(f"{cluster_id}/revokeAgentCredential", {}) == {"clusterId": cluster_id, "revoked": True}
        _wait("Offline", lambda: via_b.get(cluster_id)["properties"]["connectivityStatus"] == "Offline", timeout=10)
        assert pair.database.rows("SELECT holder FROM relay_tunnels WHERE cluster_key = $1", cluster_id.lower()) == []
        via_b.close()
    finally:
        stop_local_agents(config_dir)
        kube.delete(Namespace, namespace)
        kube.close()
