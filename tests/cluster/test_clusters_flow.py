"""Both kinds of cluster through Tether's resources and CLI, on the local cluster (issue 5).

A managed and a connected cluster are registered with the CLI (the connect agent and the extension's
operators run as local processes) against a Tether server that runs in this process, on a thread with
its own event loop: the CLI and the agents reach it over HTTPS and WebSocket like any client, and the
tests also make Kubernetes calls through the server's own ``ClusterAccess`` (the path attaches and
health checks take), so list, watch and logs are proven through the product's relay. Connectivity,
credentials and extension settings are checked as a user sees them: ARM resources, CLI output, exit
codes. Timing bounds are functional: Offline within 10 s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import stat
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
import yaml
from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace, Node, Pod

from tests.cluster.conftest import AZUREML, Cli, Clusters, log_in, register_clusters, stop_local_agents
from tether.api.app import build_services, create_app
from tether.api.server import prepare
from tether.api.services import Services
from tether.client import ClientError
from tether.errors import Unavailable
from tether.kube.resources import InstanceType
from tether.localcluster import SIMULATE_DURATION_ANNOTATION, SIMULATE_LOG_ANNOTATION, LocalCluster, kubeversions
from tether.settings import ReconcileSettings, ServerSettings, Settings, StorageSettings

pytestmark = pytest.mark.cluster

RG = "flow-rg"
T = TypeVar("T")


class LiveServer:
    """``tether server`` in this process: uvicorn (TLS) on a loopback port, on its own thread and event loop.

    Clients reach it over the network exactly as they reach a server process; ``call`` runs a coroutine
    on the server's loop, where its services (hub, cluster access) live.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.bootstrap: dict[str, Any] = {}
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._services: Services | None = None
        self._thread = threading.Thread(target=self._main, name="tether-server", daemon=True)

    @property
    def url(self) -> str:
        return str(self.bootstrap["server"])

    @property
    def services(self) -> Services:
        assert self._services is not None
        return self._services

    def cli_env(self, config_dir: Path) -> dict[str, str]:
        ca_file = str(self.bootstrap["ca_file"])
        return {
            **os.environ,
            "TETHER_CONFIG_DIR": str(config_dir),
            "REQUESTS_CA_BUNDLE": ca_file,
            "SSL_CERT_FILE": ca_file,
        }

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not (self._uvicorn is not None and self._uvicorn.started):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the in-process server did not start") from self._error
            time.sleep(0.05)
        return self

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call(self, coroutine: Coroutine[Any, Any, T], *, timeout: float = 60) -> T:
        return self.submit(coroutine).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._uvicorn is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(setattr, self._uvicorn, "should_exit", True)
        self._thread.join(30)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:  # reported by start(); a thread must not die with an unhandled error
            self._error = e

    async def _serve(self) -> None:
        # Stored kubeconfigs are reused for a long time here, so that re-registering a cluster shows it never
        # checks a remembered kubeconfig instead of the new one (the default is a few seconds).
        reuse = ReconcileSettings(read_cache_s=600)
        settings = Settings(
            server=ServerSettings(data_dir=self.data_dir, port=0), storage=StorageSettings(blob_port=0), reconcile=reuse
        )
        prepared = await prepare(settings)
        try:
            self._services = await build_services(settings, store=prepared.store, public_url=prepared.public_url)
            config = uvicorn.Config(
                create_app(self._services),
                ssl_certfile=str(prepared.tls.cert),
                ssl_keyfile=str(prepared.tls.key),
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=5,
            )
            self._uvicorn = uvicorn.Server(config)
            self._loop = asyncio.get_running_loop()
            self.bootstrap = json.loads((self.data_dir / "bootstrap.json").read_text())
            await self._uvicorn.serve(sockets=[prepared.sock])
        finally:
            await prepared.close()


@dataclass
class Flow:
    server: LiveServer
    clusters: Clusters
    cli: Cli
    local_cluster: LocalCluster
    tmp: Path

    def kube(self) -> Client:
        return Client(KubeConfig.from_file(self.local_cluster.kubeconfig_path), trust_env=False)


@pytest.fixture(scope="module")
def flow(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    root = tmp_path_factory.mktemp("flow")
    server = LiveServer(root / "server").start()
    config_dir = root / "config"
    clusters: Clusters | None = None
    try:
        cli = log_in(server, config_dir)
        clusters = register_clusters(
            cli, kubeconfig=local_cluster.kubeconfig_path, resource_group=RG, managed="flow-aks", connected="flow-arc"
        )
        yield Flow(server, clusters, cli, local_cluster, root)
    finally:
        if clusters is not None:
            clusters.close()
        stop_local_agents(config_dir)
        server.stop()


def eventually(probe: Any, accept: Any, *, timeout: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if accept(value):
            return value
        assert time.monotonic() < deadline, f"not reached in {timeout} s; last value: {value!r}"
        time.sleep(interval)


def connected_key(flow: Flow) -> str:
    return flow.clusters.connected_id().lower()


# --- the ML extension on both kinds of cluster -----------------------------------------------------------


def _node_count(cluster: LocalCluster) -> int:
    """Every node of the session's cluster: kwok's CPU and GPU nodes, and the real node when it runs."""
    return cluster.cpu_nodes + cluster.gpu_nodes + cluster.real_nodes


def test_both_cluster_kinds_are_registered_with_their_facts(flow: Flow) -> None:
    managed = flow.cli.json(f"aks show -g {RG} -n {flow.clusters.managed}")["properties"]
    connected = eventually(
        lambda: flow.cli.json(f"connectedk8s show -g {RG} -n {flow.clusters.connected}")["properties"],
        lambda p: p["totalNodeCount"] is not None,
        timeout=10,
    )

    assert managed["provisioningState"] == "Succeeded"
    assert managed["kubernetesVersion"] == kubeversions.KUBERNETES_VERSION
    nodes = _node_count(flow.local_cluster)
    assert managed["agentPoolProfiles"] == [{"name": "nodepool1", "count": nodes, "gpuNodeCount": 1}]
    assert managed["fqdn"] == flow.local_cluster.server_url
    assert connected["connectivityStatus"] == "Connected"
    assert connected["kubernetesVersion"] == kubeversions.KUBERNETES_VERSION
    assert (connected["totalNodeCount"], connected["gpuNodeCount"]) == (nodes, 1)
    assert connected["agentVersion"] == "tether-connect/1"
    assert connected["relayEndpoint"] == flow.server.url.replace("https://", "wss://") + "/relay/connect"


@pytest.mark.parametrize("kind", ["managedClusters", "connectedClusters"])
def test_the_extension_is_succeeded_and_healthy_on_both_kinds(flow: Flow, kind: str) -> None:
    name = flow.clusters.managed if kind == "managedClusters" else flow.clusters.connected
    show = f"k8s-extension show --name azureml --cluster-type {kind} --cluster-name {name} --resource-group {RG}"

    extension = eventually(
        lambda: flow.cli.json(show), lambda e: e["properties"]["health"]["status"] == "Healthy", timeout=20, interval=1
    )

    properties = extension["properties"]
    assert properties["provisioningState"] == "Succeeded"
    assert properties["extensionType"] == AZUREML
    assert properties["scope"] == {"cluster": {"releaseNamespace": "azureml"}}
    assert properties["operatorMode"] == "local-process"
    health = properties["health"]
    assert (health["reason"], health["trainingEnabled"]) == (None, True)
    assert {c["name"]: c["ok"] for c in health["checks"]} == {
        "config": True,
        "crds": True,
        "nodes": True,
        "tetherJobs": True,
        "instanceTypes": True,
    }
    assert "defaultinstancetype" in properties["instanceTypes"]
    assert extension["identity"]["type"] == "SystemAssigned"
    assert extension["identity"]["principalId"]
    settings = properties["configurationSettings"]
    if kind == "connectedClusters":
        relay = settings["relayserver.hybridConnectionResourceID"]
        assert settings["relayserver.hybridConnectionName"] == name
        assert relay.endswith(f"/hybridConnections/{name}")
        assert flow.clusters.client.get(relay.split("/hybridConnections/")[0])["type"] == "Microsoft.Relay/namespaces"
    else:
        assert not [k for k in settings if k.startswith("relayserver.")], "no relay exists for managed clusters"


NEITHER = (
    "Please create Microsoft.AzureML.Kubernetes extension instance either for Machine Learning training or "
    "inference by specifying '--configuration-settings enableTraining=true' or "
    "'--configuration-settings enableInference=true'"
)
INVALID_SETTINGS = [
    pytest.param("managedClusters", "", NEITHER, id="managed-neither-training-nor-inference"),
    pytest.param(
        "connectedClusters",
        "--config enableTraining=False --config enableInference=false",
        NEITHER,
        id="connected-both-false",
    ),
    pytest.param(
        "managedClusters",
        "--config enableTraining=False enableInference=false",
        NEITHER,
        id="managed-both-false-as-az-lists-them",
    ),
    pytest.param(
        "connectedClusters",
        "--config enableTraining=True --scope namespace",
        "Invalid scope 'namespace'.  This extension can be installed only at 'cluster' scope.",
        id="connected-namespace-scope",
    ),
    pytest.param(
        "managedClusters",
        "--config enableInference=True --scope namespace --release-namespace team-a",
        "Invalid scope 'namespace'.  This extension can be installed only at 'cluster' scope.",
        id="managed-namespace-scope",
    ),
    pytest.param(
        "managedClusters",
        "--config enableTraining=True --config-protected enableTraining=True",
        "Duplicate keys found. (enableTraining in both configurationSettings and configurationProtectedSettings)",
        id="managed-duplicate-keys",
    ),
]


@pytest.mark.parametrize(("kind", "settings", "message"), INVALID_SETTINGS)
def test_invalid_extension_settings_fail_with_az_messages(flow: Flow, kind: str, settings: str, message: str) -> None:
    name = flow.clusters.managed if kind == "managedClusters" else flow.clusters.connected
    cluster_id = flow.clusters.managed_id() if kind == "managedClusters" else flow.clusters.connected_id()
    where = f"--cluster-type {kind} --cluster-name {name} --resource-group {RG}"

    refused = flow.cli.line(
        f"k8s-extension create --name azureml --extension-type {AZUREML} {where} {settings}", check=False
    )

    assert refused.returncode == 1
    assert refused.stderr == f"ERROR: (InvalidArgumentValueError) {message}\n"
    unchanged = flow.clusters.client.get(flow.clusters.extension_id(cluster_id))["properties"]
    assert unchanged["provisioningState"] == "Succeeded"
    assert unchanged["configurationSettings"]["enableTraining"] == "True"
    assert "enableInference" not in unchanged["configurationSettings"]


# --- through the relay: list, watch, logs -----------------------------------------------------------------


async def _list_namespaces(services: Services, key: str) -> list[str]:
    async with services.access.connect(key, connected=True) as connection:
        return [ns.metadata.name async for ns in connection.kube.list(Namespace) if ns.metadata and ns.metadata.name]


async def _watch(services: Services, key: str, namespace: str, since: str, *, count: int) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    async with services.access.connect(key, connected=True, timeout_s=20) as connection:
        async for event, config_map in connection.kube.watch(ConfigMap, namespace=namespace, resource_version=since):
            assert config_map.metadata is not None
            if str(config_map.metadata.name).startswith("tick-"):
                seen.append((event, str(config_map.metadata.name)))
            if len(seen) == count:
                return seen
    return seen


async def _log(services: Services, key: str, namespace: str, pod: str) -> str:
    async with services.access.connect(key, connected=True) as connection:
        return "".join([line async for line in connection.kube.log(pod, namespace=namespace)])


def test_list_watch_and_logs_work_through_the_relay_of_the_connected_cluster(flow: Flow, namespace: str) -> None:
    services, key = flow.server.services, connected_key(flow)
    kube = flow.kube()
    try:
        assert namespace in flow.server.call(_list_namespaces(services, key))

        # A watch opened through the tunnel stays open across quiet gaps longer than the relay's idle
        # timeout (6 s in all) and delivers each event.
        existing = kube.list(ConfigMap, namespace=namespace)
        assert "kube-root-ca.crt" in [c.metadata.name for c in existing if c.metadata]
        since = existing.resourceVersion
        assert since is not None
        watching = flow.server.submit(_watch(services, key, namespace, since, count=3))
        eventually(lambda: services.hub.open_streams(key), lambda n: n >= 1, timeout=5, interval=0.05)
        for i in range(3):
            time.sleep(2.2)
            kube.create(ConfigMap(metadata=ObjectMeta(name=f"tick-{i}", namespace=namespace), data={"i": str(i)}))
        assert watching.result(timeout=15) == [("ADDED", "tick-0"), ("ADDED", "tick-1"), ("ADDED", "tick-2")]

        annotations = {
            SIMULATE_LOG_ANNOTATION: "epoch 1 loss 0.5\nepoch 2 loss 0.25",
            SIMULATE_DURATION_ANNOTATION: "100ms",
        }
        pod = Pod(
            metadata=ObjectMeta(name="trainer", namespace=namespace, annotations=annotations),
            spec=PodSpec(restartPolicy="Never", containers=[Container(name="main", image="python:3.11")]),
        )
        kube.create(pod)
        eventually(
            lambda: kube.get(Pod, "trainer", namespace=namespace).status.phase,  # type: ignore[union-attr]
            lambda phase: phase == "Succeeded",
            timeout=30,
        )
        assert flow.server.call(_log(services, key, namespace, "trainer")) == "epoch 1 loss 0.5\nepoch 2 loss 0.25\n"
    finally:
        kube.close()
    assert services.hub.open_streams(key) == 0


# --- connectivity: agent killed and restarted, credential revoked and re-issued ---------------------------------


def test_killing_the_agent_turns_the_cluster_offline_within_10_s_and_a_restart_reconnects(flow: Flow) -> None:
    clusters, services, key = flow.clusters, flow.server.services, connected_key(flow)
    before = clusters.client.get(clusters.connected_id())["properties"]["lastConnectivityTime"]

    clusters.kill_agent()
    offline_after = clusters.wait_connectivity("Offline", timeout=10)

    shown = flow.cli.json(f"connectedk8s show -g {RG} -n {clusters.connected}")["properties"]
    assert shown["connectivityStatus"] == "Offline"
    assert shown["lastConnectivityTime"] > before
    assert offline_after < 10
    with pytest.raises(Unavailable) as unreachable:
        flow.server.call(_list_namespaces(services, key))
    assert unreachable.value.code == "ClusterNotReachable"

    clusters.restart_agent()
    clusters.wait_connectivity("Connected", timeout=30)

    assert "default" in flow.server.call(_list_namespaces(services, key))
    assert "connected (session" in clusters.agent_log().rsplit("connecting (", 1)[1]


def test_a_revoked_agent_credential_is_refused_until_a_new_one_is_issued(flow: Flow) -> None:
    clusters, services, key = flow.clusters, flow.server.services, connected_key(flow)
    revoke = clusters.connected_id() + "/revokeAgentCredential"
    log_before = len(clusters.agent_log())

    assert clusters.client.post(revoke, {}) == {"clusterId": clusters.connected_id(), "revoked": True}
    clusters.wait_connectivity("Offline", timeout=5)

    # The agent keeps dialing with its old credential and the relay refuses it every time.
    refusal = "the relay refused the connection (4403 credential refused for this cluster)"
    eventually(lambda: clusters.agent_log()[log_before:], lambda text: refusal in text, timeout=10)
    time.sleep(1)
    assert clusters.connectivity() == "Offline"
    assert "connected (session" not in clusters.agent_log()[log_before:]
    with pytest.raises(Unavailable):
        flow.server.call(_list_namespaces(services, key))

    # A new credential, written where the agent reads it (as a rotated Secret): it reconnects by itself.
    issued = clusters.client.post(clusters.connected_id() + "/issueAgentCredential", {})
    assert issued["clusterId"] == clusters.connected_id()
    credential_file = clusters.agent_dir() / "credential"
    credential_file.write_text(issued["credential"])
    assert stat.S_IMODE(credential_file.stat().st_mode) == 0o600
    clusters.wait_connectivity("Connected", timeout=20)
    assert "default" in flow.server.call(_list_namespaces(services, key))
    assert issued["credential"] not in json.dumps(clusters.client.get(clusters.connected_id()))


def test_a_reissued_credential_drops_the_old_one(flow: Flow) -> None:
    clusters = flow.clusters
    credential_file = clusters.agent_dir() / "credential"
    old = credential_file.read_text()
    log_before = len(clusters.agent_log())

    issued = clusters.client.post(clusters.connected_id() + "/issueAgentCredential", {})

    assert issued["credential"] != old
    clusters.wait_connectivity("Offline", timeout=5)  # the tunnel of the old credential is dropped
    refusal = "the relay refused the connection (4403 credential refused for this cluster)"
    eventually(lambda: clusters.agent_log()[log_before:], lambda text: refusal in text, timeout=10)
    assert clusters.connectivity() == "Offline"

    # `connectedk8s connect` again is the CLI's way back: a new credential and a restarted agent.
    clusters.stop_restarted_agents()  # the CLI would stop it too, but this process must reap its own child
    flow.cli.line(
        f"connectedk8s connect -g {RG} -n {clusters.connected} --kubeconfig {clusters.kubeconfig} --agent-process "
        "-o none"
    )
    assert clusters.connectivity() == "Connected"
    assert credential_file.read_text() not in (old, issued["credential"])


# --- cluster admin credentials ---------------------------------------------------------------------------------


def test_admin_credentials_need_the_cluster_admin_role_and_get_never_returns_them(flow: Flow) -> None:
    clusters = flow.clusters
    managed_id = clusters.managed_id()
    sp = flow.cli.json("ad sp create-for-rbac --name flow-ops")
    flow.cli.line(f"role assignment create --assignee {sp['appId']} --role Reader --scope {managed_id} -o none")
    ops = flow.cli.as_other(flow.tmp / "ops")
    ops.line(
        f"login --server {flow.server.url} --service-principal -u {sp['appId']} -p {sp['password']} "
        f"--tenant {sp['tenant']} --ca-file {clusters.ca_file} -o none"
    )
    secret = yaml.safe_load(flow.local_cluster.kubeconfig_path.read_text())["users"][0]["user"]["client-key-data"]

    shown = ops.line(f"aks show -g {RG} -n {clusters.managed}").stdout
    listed = flow.cli.line(f"aks list -g {RG}").stdout
    denied = ops.line(f"aks get-credentials -g {RG} -n {clusters.managed} --admin", check=False)

    assert json.loads(shown)["id"] == managed_id
    assert [c["id"] for c in json.loads(listed)] == [managed_id]
    assert "kubeconfig" not in json.loads(shown)["properties"]
    for answer in (shown, listed):
        assert secret not in answer
        assert "PRIVATE KEY" not in answer
    assert denied.returncode == 1
    assert denied.stderr.startswith("ERROR: (AuthorizationFailed) The client ")
    assert (
        "does not have authorization to perform action "
        f"'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action' over scope '{managed_id}'"
    ) in denied.stderr
    assert denied.stdout == ""
    with ops.client() as client, pytest.raises(ClientError) as caught:
        client.post(managed_id + "/listClusterAdminCredential", {})
    assert (caught.value.status, caught.value.code) == (403, "AuthorizationFailed")

    flow.cli.line(
        f'role assignment create --assignee {sp["appId"]} --role "Azure Kubernetes Service Cluster Admin Role" '
        f"--scope {managed_id} -o none"
    )
    target = flow.tmp / "ops-kube" / "config"
    allowed = ops.line(f"aks get-credentials -g {RG} -n {clusters.managed} --admin -f {target}")

    assert allowed.stderr == f'Merged "{clusters.managed}" as current context in {target}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    config = yaml.safe_load(target.read_text())
    assert [c["cluster"]["server"] for c in config["clusters"]] == [flow.local_cluster.server_url]
    admin = Client(KubeConfig.from_file(target), trust_env=False)
    try:
        assert len(list(admin.list(Node))) == _node_count(flow.local_cluster)  # the credential works
    finally:
        admin.close()


def test_an_invalid_instance_type_is_rejected_by_the_api_server_and_a_valid_one_is_reported(flow: Flow) -> None:
    kube = flow.kube()
    show = (
        f"k8s-extension show --name azureml --cluster-type managedClusters --cluster-name {flow.clusters.managed} "
        f"--resource-group {RG} --query properties.instanceTypes"
    )
    invalid = InstanceType(
        metadata={"name": "flow-invalid"},
        spec={"resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}},
    )
    valid_spec = {"resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}}
    try:
        with pytest.raises(ApiError) as refused:
            kube.create(invalid)
        assert refused.value.status.code == 422
        assert "resources.limits.cpu must be at least resources.requests.cpu" in (refused.value.status.message or "")

        kube.create(InstanceType(metadata={"name": "flow-small"}, spec=valid_spec))
        reported = eventually(lambda: flow.cli.json(show), lambda types: "flow-small" in types, timeout=15, interval=1)
    finally:
        with contextlib.suppress(ApiError):
            kube.delete(InstanceType, "flow-small")
        kube.close()

    assert "flow-invalid" not in reported
    assert reported["flow-small"]["resources"]["requests"] == {"cpu": "1", "memory": "4Gi"}


# --- registering again ----------------------------------------------------------------------------------------


async def _version(services: Services, key: str) -> str:
    async with services.access.connect(key, connected=False) as connection:
        response = await connection.http.get("/version")
        return str(response.json()["gitVersion"])


def test_registering_a_cluster_again_checks_the_new_kubeconfig_not_a_remembered_one(flow: Flow) -> None:
    # The server reuses a stored kubeconfig for a few seconds; make sure it holds the good one now.
    assert flow.server.call(_version(flow.server.services, flow.clusters.managed_id().lower())).startswith("v1.")
    document = yaml.safe_load(flow.local_cluster.kubeconfig_path.read_text())
    for user in document["users"]:
        user["user"] = {"token": "not-a-token-this-cluster-accepts"}
    rejected = flow.tmp / "rejected.kubeconfig"
    rejected.write_text(yaml.safe_dump(document))
    try:
        result = flow.cli.run("aks", "create", "-g", RG, "-n", "flow-aks", "--kubeconfig", str(rejected), check=False)

        assert result.returncode == 1, result.stdout
        assert "401" in result.stderr, result.stderr
    finally:
        flow.cli.line(f"aks create -g {RG} -n flow-aks --kubeconfig {flow.local_cluster.kubeconfig_path} -o none")
    assert flow.server.call(_version(flow.server.services, flow.clusters.managed_id().lower())).startswith("v1.")
