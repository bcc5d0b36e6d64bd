"""Two ``tether server`` processes on one PostgreSQL share the work; SIGKILL one mid-attach, then (with a
replacement started) one mid-dispatch, and the survivor finishes both with nothing lost or duplicated.

The servers are real processes behind one address: each is started with ``--reuse-port`` on the same
loopback port, so the kernel spreads connections between them as a load balancer would; they share
the CA, the serving certificate, ``secrets.key`` and ``bootstrap.json`` (copied, as docs/operations.md
tells an operator to). Leases are 2 s (``TETHER_RECONCILE__LEASE_S``) so that the survivor takes the
dead server's work over quickly.

"Mid-step" is made certain rather than hoped for: the test watches the operation's row, SIGSTOPs the
process named in its ``lock_owner`` (host:pid:...) while the row is leased and in progress, checks it
still is (a stopped process cannot finish it), then SIGKILLs it. PostgreSQL is ``TETHER_TEST_POSTGRES_URL``
(``make test`` starts one) or, without it, a throwaway cluster started here by ``tools/postgres.sh``.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx2
import pytest
import yaml
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod
from sqlalchemy.engine import make_url

from tests.cluster.conftest import Cli, log_in, stop_local_agents, workspace_on_managed_cluster
from tether.client import ClientError
from tether.client.errors import ServerUnreachable
from tether.kube.resources import TetherJob
from tether.localcluster import SIMULATE_DURATION_ANNOTATION, LocalCluster
from tether.server_process import ServerProcess

pytestmark = pytest.mark.cluster

RG, WS, CLUSTER, COMPUTE = "ha-rg", "ha-ws", "ha-aks", "ha-compute"
LEASE_S = "2"
SHARED_FILES = ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "secrets.key", "bootstrap.json")
REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """An admin URL: the one ``make test`` gives, or a throwaway cluster of this module's own."""
    given = os.environ.get("TETHER_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    directory = Path(tempfile.mkdtemp(prefix="tether-postgres-"))
    directory.chmod(0o755)  # run as root, the script runs the server as the postgres user, who must get in
    script = str(REPO / "tools" / "postgres.sh")
    started = subprocess.run(
        [script, "start", str(directory), str(_free_port())], capture_output=True, text=True, check=False
    )
    assert started.returncode == 0, f"tools/postgres.sh start failed:\n{started.stderr}"
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([script, "stop", str(directory)], check=False)
        shutil.rmtree(directory, ignore_errors=True)


class Database:
    """A scratch database of its own, and a connection to look at it (asyncpg on a private event loop)."""

    def __init__(self, admin_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._admin_dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.name = f"tether_ha_{os.getpid()}_{int(time.time())}"
        self._run(self._execute_admin(f'CREATE DATABASE "{self.name}"'))
        url = make_url(admin_url).set(database=self.name)
        self.url = url.render_as_string(hide_password=False)
        self._connection: asyncpg.Connection = self._run(
            asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        )

    def _run(self, awaitable: Any) -> Any:
        return self._loop.run_until_complete(awaitable)

    async def _execute_admin(self, statement: str) -> None:
        admin = await asyncpg.connect(self._admin_dsn)
        try:
            await admin.execute(statement)
        finally:
            await admin.close()

    def rows(self, query: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in self._run(self._connection.fetch(query, *args))]

    def operations(self, resource_id: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT id, status, lock_owner, lock_token, attempts FROM operations WHERE resource_key = $1 "
            "ORDER BY created_at",
            resource_id.lower(),
        )

    def close(self) -> None:
        self._run(self._connection.close())
        self._run(self._execute_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._loop.close()


@dataclass
class Replicas:
    """Servers on one port and one database; ``first`` made the shared files, the others copied them."""

    root: Path
    port: int
    database: Database
    servers: list[ServerProcess] = field(default_factory=list)

    def start(self) -> ServerProcess:
        data_dir = self.root / f"server-{len(self.servers)}"
        if self.servers:
            data_dir.mkdir(parents=True)
            for name in SHARED_FILES:
                shutil.copy2(self.servers[0].data_dir / name, data_dir / name)
        args = ("--port", str(self.port), "--reuse-port", "--db-url", self.database.url)
        env = {"TETHER_RECONCILE__LEASE_S": LEASE_S, "TETHER_RECONCILE__IDLE_POLL_S": "0.2"}
        server = ServerProcess.start(data_dir, extra_args=args, env=env)
        self.servers.append(server)
        return server

    def alive(self) -> list[ServerProcess]:
        return [s for s in self.servers if s.process.poll() is None]

    def kill_lease_holder(self, resource_id: str, *, timeout: float = 60) -> ServerProcess:
        """SIGKILL the server that holds the lease of ``resource_id``'s operation while it is in progress."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for row in self.database.operations(resource_id):
                if row["status"] != "InProgress" or not row["lock_owner"]:
                    continue
                pid = int(row["lock_owner"].split(":")[1])
                holders = [s for s in self.alive() if s.process.pid == pid]
                if not holders:  # a lease left by a server already killed: wait for its expiry
                    continue
                holder = holders[0]
                os.kill(pid, signal.SIGSTOP)
                [again] = [r for r in self.database.operations(resource_id) if r["id"] == row["id"]]
                if again["status"] == "InProgress" and again["lock_token"] == row["lock_token"]:
                    os.kill(pid, signal.SIGKILL)
                    holder.process.wait(timeout=10)
                    return holder
                os.kill(pid, signal.SIGCONT)  # it finished in between: look again
            if any(r["status"] != "InProgress" for r in self.database.operations(resource_id)):
                pytest.fail(f"the operation on {resource_id} finished before a server could be killed in it")
            time.sleep(0.005)
        pytest.fail(f"no server leased the operation on {resource_id} within {timeout} s")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="module")
def replicas(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    database = Database(postgres_url)
    group = Replicas(tmp_path_factory.mktemp("replicas"), _free_port(), database)
    try:
        group.start()
        group.start()
        yield group
    finally:
        group.stop()
        database.close()


def _through_failover(call: Callable[[], T], *, timeout: float = 60) -> T:
    """``call``, again while it meets a dead server (a connection it held or made before the kill)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (httpx2.TransportError, ClientError) as e:
            if isinstance(e, ClientError) and not isinstance(e, ServerUnreachable) and (e.status or 0) < 500:
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _start(cli: Cli, line: str) -> subprocess.Popen[bytes]:
    """``tether <line>`` in the background, so that the operation's row is watched from its first moment."""
    env = {**cli.env, "TETHER_CONFIG_DIR": str(cli.config_dir)}
    command = [sys.executable, "-m", "tether", *shlex.split(line)]
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _wait(cli: Cli, resource_id: str, field_name: str, finals: tuple[str, ...], *, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with cli.client() as client:
            body = _through_failover(lambda: client.get(resource_id))
        if body["properties"][field_name] in finals:
            return body
        assert time.monotonic() < deadline, f"{resource_id} is still {body['properties'][field_name]}"
        time.sleep(0.2)


def test_the_other_server_finishes_an_attach_and_a_dispatch_whose_server_was_killed(
    replicas: Replicas, local_cluster: LocalCluster, tmp_path: Path
) -> None:
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    namespace = f"ha-{os.getpid()}"
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    config_dir = tmp_path / "config"
    try:
        cli = log_in(replicas.servers[0], config_dir)
        kubeconfig = local_cluster.kubeconfig_path
        workspace_on_managed_cluster(cli, kubeconfig=kubeconfig, resource_group=RG, workspace=WS, cluster=CLUSTER)
        with cli.client() as client:
            sub = client.profile.subscription_id
        group = f"/subscriptions/{sub}/resourceGroups/{RG}"
        workspace = f"{group}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
        compute_id = f"{workspace}/computes/{COMPUTE}"

        # --- an attach, its server killed mid-step ---
        attaching = _start(
            cli,
            f"ml compute attach -g {RG} -w {WS} --type Kubernetes -n {COMPUTE} --resource-id "
            f"{group}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER} --namespace {namespace} "
            "--identity-type SystemAssigned --no-wait -o none",
        )
        replicas.kill_lease_holder(compute_id)
        attaching.wait(timeout=120)  # its answer may have been lost with the killed server; the work was not
        assert len(replicas.alive()) == 1
        compute = _wait(cli, compute_id, "provisioningState", ("Succeeded", "Failed"))

        assert compute["properties"]["provisioningState"] == "Succeeded", compute
        [operation] = replicas.database.operations(compute_id)
        assert (operation["status"], operation["attempts"] >= 2) == ("Succeeded", True)  # taken over, once
        identities = replicas.database.rows(
            "SELECT object_id FROM principals WHERE resource_key = $1", compute_id.lower()
        )
        assert identities == [{"object_id": compute["identity"]["principalId"]}]

        # --- a replacement joins; a job, its dispatching server killed mid-step ---
        replicas.start()
        job = {
            "type": "command",
            "command": "python train.py",
            "environment": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"},
            "compute": f"azureml:{COMPUTE}",
            "resources": {"instance_count": 1},
            "tags": {SIMULATE_DURATION_ANNOTATION: "1s"},
        }
        job_file = tmp_path / "job.yml"
        job_file.write_text(yaml.safe_dump(job))
        job_id = f"{workspace}/jobs/ha-job"
        creating = _start(cli, f"ml job create -f {job_file} -g {RG} -w {WS} -n ha-job -o none")
        replicas.kill_lease_holder(job_id)
        creating.wait(timeout=120)
        finished = _wait(cli, job_id, "status", ("Completed", "Failed", "Canceled"))

        assert finished["properties"]["status"] == "Completed", finished
        [dispatch] = replicas.database.operations(job_id)
        assert (dispatch["status"], dispatch["attempts"] >= 2) == ("Succeeded", True)  # taken over, once
        tether_jobs = [j for j in kube.list(TetherJob, namespace=namespace) if j["spec"].get("jobName") == "ha-job"]
        assert len(tether_jobs) == 1
        pods = [
            p
            for p in kube.list(Pod, namespace=namespace)
            if p.metadata is not None and (p.metadata.annotations or {}).get("tether.dev/job-name") == "ha-job"
        ]
        assert len(pods) == 1
    finally:
        stop_local_agents(config_dir)
        kube.delete(Namespace, namespace)
        kube.close()
