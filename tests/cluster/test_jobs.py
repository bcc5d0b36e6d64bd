"""Jobs through Tether's product surface on the real local cluster (issue 7): CLI, ARM API, pods.

One real ``tether server`` process for the module, one managed Tether cluster on the local cluster
with the ML extension (its operator a local process: the only operator on the physical cluster while
this module runs, stopped at its end) and computes in workspace ``jobs-ws``; one test adds a connected
registration of the same cluster (its connect agent also stopped at the end). Pods do not execute
(kwok): the ``tether.dev/simulate-*`` tags choose how long they "run", their exit code and their log.
Every job is checked in the cluster too: its pods, their resources and the nodes they landed on.

Hazards: the last test registers the physical cluster a second time with training disabled, which
rewrites the shared ``azureml`` settings; it restores them (``enableTraining=True``) before it ends.
The restart test replaces the server process (same data dir and port) and keeps ``World.server``
pointing at the live one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace, Node, Pod

from tests.cluster.conftest import AZUREML, Cli, log_in, stop_local_agents, workspace_on_managed_cluster
from tether.client import ClientError, TetherClient
from tether.client.principals import get_by_object_id
from tether.kube.resources import InstanceType, TetherJob
from tether.localcluster import (
    NODE_POOL_LABEL,
    SIMULATE_DURATION_ANNOTATION,
    SIMULATE_EXIT_ANNOTATION,
    SIMULATE_LOG_ANNOTATION,
    LocalCluster,
)
from tether.server_process import ServerProcess

pytestmark = pytest.mark.cluster

RG = "jobs-rg"
WS = "jobs-ws"
CLUSTER = "jobs-aks"
COMPUTE = "train"
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"
JOB_NAME_ANNOTATION = "tether.dev/job-name"
TERMINAL = ("Completed", "Failed", "Canceled")
INSTANCE_TYPES: dict[str, dict[str, Any]] = {
    "tjobs-cpu": {
        "nodeSelector": {NODE_POOL_LABEL: "cpu"},
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    },
    "tjobs-gpu": {
        "nodeSelector": {NODE_POOL_LABEL: "gpu"},
        "resources": {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": 1},
        },
    },
}


@dataclass
class World:
    server: ServerProcess
    cli: Cli
    client: TetherClient
    kube: Client
    namespace: str  # the namespace of compute COMPUTE
    compute: dict[str, Any]
    kubeconfig: Path
    tmp: Path

    @property
    def sub(self) -> str:
        return self.client.profile.subscription_id

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{RG}"

    def cluster_id(self, name: str = CLUSTER) -> str:
        return f"{self.group_id}/providers/Microsoft.ContainerService/managedClusters/{name}"

    def workspace_id(self) -> str:
        return f"{self.group_id}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"

    def job_id(self, name: str) -> str:
        return f"{self.workspace_id()}/jobs/{name}"

    def restart_server(self) -> None:
        """Stop the server and start a new process on the same data dir and port (the CLI's profile stays valid)."""
        port = str(urlsplit(self.server.url).port)
        self.client.close()
        self.server.stop()
        self.server = ServerProcess.start(self.server.data_dir, extra_args=("--port", port))
        self.client = self.cli.client()

    def attach(self, name: str, *, namespace: str, cluster: str = CLUSTER) -> None:
        """``tether ml compute attach`` with a system-assigned identity, waiting for it to succeed."""
        self.cli.line(
            f"ml compute attach -g {RG} -w {WS} --type Kubernetes -n {name} --resource-id {self.cluster_id(cluster)} "
            f"--namespace {namespace} --identity-type SystemAssigned -o none"
        )


@pytest.fixture(scope="module")
def world(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("jobs")
    namespace = f"team-jobs-{secrets.token_hex(3)}"
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    server = ServerProcess.start(root / "server")
    config_dir = root / "config"
    world: World | None = None
    try:
        cli = log_in(server, config_dir)
        kubeconfig = local_cluster.kubeconfig_path
        workspace_on_managed_cluster(cli, kubeconfig=kubeconfig, resource_group=RG, workspace=WS, cluster=CLUSTER)
        for name, spec in INSTANCE_TYPES.items():
            with contextlib.suppress(ApiError):
                kube.delete(InstanceType, name)
            kube.create(InstanceType(metadata=ObjectMeta(name=name), spec=spec))
        world = World(server, cli, cli.client(), kube, namespace, {}, kubeconfig, root)
        world.attach(COMPUTE, namespace=namespace)
        world.compute = world.client.get(f"{world.workspace_id()}/computes/{COMPUTE}")
        yield world
    finally:
        if world is not None:
            world.client.close()
            server = world.server
        stop_local_agents(config_dir)
        server.stop()
        try:
            for name in INSTANCE_TYPES:
                with contextlib.suppress(ApiError):
                    kube.delete(InstanceType, name)
            kube.delete(Namespace, namespace)
        finally:
            kube.close()


# --- helpers -------------------------------------------------------------------------------------------


def job_yaml(compute: str = COMPUTE, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
        "type": "command",
        "command": "python train.py --epochs 2",
        "environment": {"image": IMAGE},
        "compute": f"azureml:{compute}",
        "resources": {"instance_count": 1},
        "environment_variables": {"EPOCHS": "2"},
        "tags": {SIMULATE_DURATION_ANNOTATION: "1s"},
    }
    document.update(fields)
    return document


def arm_job(compute: str = COMPUTE, **properties: Any) -> dict[str, Any]:
    """The ARM body of a command job (what ``tether ml job create`` and the SDK send)."""
    body: dict[str, Any] = {
        "jobType": "Command",
        "command": "python train.py",
        "environment": {"image": IMAGE},
        "computeId": f"azureml:{compute}",
        "resources": {"instanceCount": 1},
        "tags": {SIMULATE_DURATION_ANNOTATION: "1s"},
    }
    body.update(properties)
    return {"properties": body}


def write_yaml(world: World, document: dict[str, Any]) -> Path:
    path = world.tmp / f"job-{secrets.token_hex(4)}.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def create_job(world: World, name: str, document: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    """``tether ml job create -f <yaml> -n <name>``; the job's JSON on stdout."""
    path = write_yaml(world, document)
    return world.cli.run("ml", "job", "create", "-f", str(path), "-g", RG, "-w", WS, "-n", name, *extra, check=False)


def get_job(world: World, name: str) -> dict[str, Any]:
    return world.client.get(world.job_id(name))


def wait_job(world: World, name: str, *statuses: str, timeout: float = 30) -> dict[str, Any]:
    """The job once its status is one of ``statuses`` (default: a final one); fails after ``timeout``."""
    wanted = statuses or TERMINAL
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(world, name)
        if job["properties"]["status"] in wanted:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {name} is {job['properties']['status']}, not {wanted}, after {timeout} s: {job}")
        time.sleep(0.1)


def job_pods(world: World, name: str, namespace: str | None = None) -> list[Pod]:
    """The pods the operator made for Tether job ``name`` (annotation ``tether.dev/job-name``), by name."""
    pods = [
        p
        for p in world.kube.list(Pod, namespace=namespace or world.namespace, labels={"tether.dev/compute": COMPUTE})
        if p.metadata is not None and (p.metadata.annotations or {}).get(JOB_NAME_ANNOTATION) == name
    ]
    return sorted(pods, key=lambda p: p.metadata.name if p.metadata and p.metadata.name else "")


def tether_jobs(world: World, name: str) -> list[dict[str, Any]]:
    return [dict(j) for j in world.kube.list(TetherJob, namespace=world.namespace) if j["spec"].get("jobName") == name]


def node_pool(world: World, node: str) -> str:
    found = world.kube.get(Node, node)
    assert found.metadata is not None
    assert found.metadata.labels is not None
    return str(found.metadata.labels[NODE_POOL_LABEL])


def phases(job: dict[str, Any]) -> list[str]:
    return [entry["phase"] for entry in job["properties"]["timeline"]]


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_timeline_ordered(job: dict[str, Any]) -> None:
    """Each entry no earlier than the one before it; the cluster's times have second precision, so an entry
    may fall within the second (truncated) of its predecessor."""
    timeline = job["properties"]["timeline"]
    for before, after in itertools.pairwise(timeline):
        assert _instant(after["time"]) >= _instant(before["time"]).replace(microsecond=0), timeline


# --- a job runs: pods, resources, placement, timeline, logs --------------------------------------------------


def test_a_job_completes_with_its_pods_resources_and_node_placement(world: World) -> None:
    tags = {SIMULATE_DURATION_ANNOTATION: "3s", SIMULATE_LOG_ANNOTATION: "epoch 1 loss=0.5\nepoch 2 loss=0.25\n"}
    document = job_yaml(
        resources={"instance_type": "tjobs-cpu", "instance_count": 2},
        environment_variables={"EPOCHS": "2", "AZURE_CLIENT_ID": "spoofed"},
        tags=tags,
        display_name="two-node training",
    )

    created = create_job(world, "two-pods", document, "-o", "json")

    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["properties"]["status"] == "Queued"
    job = wait_job(world, "two-pods")
    assert job["properties"]["status"] == "Completed", job["properties"]
    pods = job_pods(world, "two-pods")
    names = [p.metadata.name for p in pods if p.metadata and p.metadata.name]
    assert len(names) == 2
    logs = list(world.client.stream_lines(world.job_id("two-pods") + "/logs"))
    assert sorted(logs) == sorted(
        f"[{name}] {text}" for name in names for text in ("epoch 1 loss=0.5", "epoch 2 loss=0.25")
    )

    principal = get_by_object_id(world.client, world.compute["identity"]["principalId"])
    assert principal is not None
    for index, pod in enumerate(pods):
        assert pod.metadata is not None
        assert pod.spec is not None
        assert pod.status is not None
        assert pod.metadata.name is not None
        assert pod.metadata.name.endswith(f"-{index}")
        assert pod.metadata.namespace == world.namespace  # S6: the compute's namespace
        assert {k: (pod.metadata.annotations or {}).get(k) for k in tags} == tags
        assert (pod.metadata.labels or {})["tether.dev/workspace"] == WS
        assert pod.status.phase == "Succeeded"
        assert pod.spec.serviceAccountName == f"tether-compute-{COMPUTE}"
        assert pod.spec.nodeSelector == {NODE_POOL_LABEL: "cpu"}
        assert pod.spec.nodeName is not None
        assert node_pool(world, pod.spec.nodeName) == "cpu"
        [container] = pod.spec.containers
        assert container.image == IMAGE
        assert container.command == ["/bin/sh", "-c", "python train.py --epochs 2"]
        assert container.resources is not None
        assert container.resources.requests == {"cpu": "500m", "memory": "1Gi"}
        assert container.resources.limits == {"cpu": "1", "memory": "2Gi"}
        env = {e.name: e.value for e in container.env or []}
        assert env["EPOCHS"] == "2"
        assert env["TETHER_INSTANCE_INDEX"] == str(index)
        assert env["TETHER_INSTANCE_COUNT"] == "2"
        assert env["AZURE_CLIENT_ID"] == principal["appId"]  # the compute identity wins over the job's env
    assert len(tether_jobs(world, "two-pods")) == 1

    shown = get_job(world, "two-pods")["properties"]
    assert shown["displayName"] == "two-node training"
    assert sorted((p["name"], p["phase"], p["exitCode"]) for p in shown["pods"]) == [
        (name, "Succeeded", 0) for name in names
    ]
    assert {p["nodeName"] for p in shown["pods"]} == {p.spec.nodeName for p in pods if p.spec}
    # B7: queued, dispatched, running, finished, each with its time, in order.
    timeline = phases(get_job(world, "two-pods"))
    assert timeline[:2] == ["Queued", "Dispatched"]
    assert timeline[-1] == "Completed"
    assert "Running" in timeline
    assert_timeline_ordered(get_job(world, "two-pods"))


def test_every_job_records_pod_creation_in_its_timeline(world: World) -> None:
    """B7: queued, dispatched, pod created, running, finished, in order, however fast the pods start (kwok
    starts them at once, between two polls of the job monitor); three jobs, so a lucky poll cannot pass it."""
    names = [f"pods-made-{i}" for i in range(3)]
    for name in names:
        world.client.put(world.job_id(name), arm_job())

    jobs = [wait_job(world, name) for name in names]

    assert [j["properties"]["status"] for j in jobs] == ["Completed"] * 3
    for job in jobs:
        assert phases(job) == ["Queued", "Dispatched", "PodsCreated", "Running", "Completed"], job["name"]
        assert_timeline_ordered(job)


def test_show_as_a_table_prints_the_timeline(world: World) -> None:
    created = create_job(world, "tabled", job_yaml(), "-o", "none")
    assert created.returncode == 0, created.stderr
    job = wait_job(world, "tabled")

    table = world.cli.line(f"ml job show -g {RG} -w {WS} -n tabled -o table").stdout.splitlines()

    assert table[0] == f"tabled: {job['properties']['status']} on {COMPUTE}"
    timeline = job["properties"]["timeline"]
    assert len(table) == 1 + len(timeline)
    for line, entry in zip(table[1:], timeline, strict=True):
        assert line.split()[:2] == [entry["time"], entry["phase"]]
        if entry.get("reason"):
            assert line.rstrip().endswith(entry["reason"])


def test_a_gpu_instance_type_lands_on_the_gpu_node(world: World) -> None:
    created = create_job(world, "on-gpu", job_yaml(resources={"instance_type": "tjobs-gpu"}), "-o", "none")
    assert created.returncode == 0, created.stderr

    job = wait_job(world, "on-gpu")

    assert job["properties"]["status"] == "Completed", job["properties"]
    [pod] = job_pods(world, "on-gpu")
    assert pod.spec is not None
    assert pod.spec.nodeName is not None
    assert node_pool(world, pod.spec.nodeName) == "gpu"
    assert [p["nodeName"] for p in job["properties"]["pods"]] == [pod.spec.nodeName]
    assert pod.spec.containers[0].resources is not None
    assert pod.spec.containers[0].resources.limits == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}


def test_a_failing_pod_fails_the_job_with_its_exit_code(world: World) -> None:
    created = create_job(world, "exits-3", job_yaml(tags={SIMULATE_EXIT_ANNOTATION: "3"}), "--stream", "-o", "json")

    assert created.returncode == 1
    job = json.loads(created.stdout)
    assert job["properties"]["status"] == "Failed"
    assert job["properties"]["error"]["code"] == "PodFailed"
    assert "failed with exit code 3" in job["properties"]["error"]["message"]
    assert [p["exitCode"] for p in job["properties"]["pods"]] == [3]


def test_logs_stream_while_the_job_runs(world: World) -> None:
    log = "".join(f"step {i}\n" for i in range(1, 6))
    tags = {SIMULATE_DURATION_ANNOTATION: "8s", SIMULATE_LOG_ANNOTATION: log}
    created = create_job(world, "chatty", job_yaml(tags=tags), "-o", "none")
    assert created.returncode == 0, created.stderr
    wait_job(world, "chatty", "Running")

    received: list[tuple[str, str]] = []  # (line, job status when it arrived)
    with world.cli.client() as reader:
        lines = reader.stream_lines(world.job_id("chatty") + "/logs", params={"follow": "true"})
        assert isinstance(lines, Generator)
        with contextlib.closing(lines):
            for line in lines:
                received.append((line, get_job(world, "chatty")["properties"]["status"]))
                if len(received) == len(log.splitlines()):
                    break

    assert [line for line, _ in received] == log.splitlines()
    assert received[0][1] == "Running", "the first line came only after the job ended"
    job = wait_job(world, "chatty")
    assert job["properties"]["status"] == "Completed"
    # Without follow: the whole log at once, also after the end.
    assert list(world.client.stream_lines(world.job_id("chatty") + "/logs")) == log.splitlines()


def test_create_with_stream_prints_every_pods_log_and_exits_when_the_job_ends(world: World) -> None:
    tags = {SIMULATE_DURATION_ANNOTATION: "2s", SIMULATE_LOG_ANNOTATION: "epoch 1 loss=0.5\nepoch 2 loss=0.25\n"}
    path = write_yaml(world, job_yaml(resources={"instance_count": 2}, tags=tags))
    args = ["ml", "job", "create", "-f", str(path), "-g", RG, "-w", WS, "-n", "streamed", "--stream", "-o", "json"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tether", *args],
        env={**world.cli.env, "TETHER_CONFIG_DIR": str(world.cli.config_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(j["name"] == "streamed" for j in world.client.list(f"{world.workspace_id()}/jobs")):
            assert time.monotonic() < deadline, "the job was not created"
            time.sleep(0.1)
        wait_job(world, "streamed")
        # Once the job has ended the command has nothing left to wait for (the bound only guards against a hang).
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        stdout = ""
        pytest.fail("`tether ml job create --stream` still runs 30 s after the job ended")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, stderr
    assert json.loads(stdout[stdout.index("{") :])["properties"]["status"] == "Completed"
    assert "Dispatched" in stderr
    names = [p.metadata.name for p in job_pods(world, "streamed") if p.metadata and p.metadata.name]
    assert sorted(line for line in stdout.splitlines() if line.startswith("[")) == sorted(
        f"[{name}] {text}" for name in names for text in ("epoch 1 loss=0.5", "epoch 2 loss=0.25")
    )


def test_logs_of_a_job_not_yet_dispatched_are_refused_with_a_clear_error(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        list(world.client.stream_lines(world.job_id("no-such-job") + "/logs"))
    assert (caught.value.status, caught.value.code) == (404, "JobNotFound")


@pytest.fixture(scope="module")
def edge(world: World) -> str:
    """A compute on a connected registration of the same cluster: dispatch, status and logs go through the
    relay (its connect agent a local process, stopped with the module's agents; no second operator)."""
    world.cli.line(f"connectedk8s connect -g {RG} -n jobs-arc --kubeconfig {world.kubeconfig} --agent-process -o none")
    world.cli.line(
        f"k8s-extension create --name azureml --extension-type {AZUREML} --cluster-type connectedClusters "
        f"--cluster-name jobs-arc --resource-group {RG} --scope cluster --config enableTraining=True "
        "--config tether.operatorMode=process -o none"
    )
    world.cli.line(
        f"ml compute attach -g {RG} -w {WS} --type Kubernetes -n edge --namespace {world.namespace} "
        f"--resource-id {world.group_id}/providers/Microsoft.Kubernetes/connectedClusters/jobs-arc -o none"
    )
    return "edge"


def test_a_job_on_a_connected_cluster_runs_and_its_logs_come_through_the_relay(world: World, edge: str) -> None:
    tags = {SIMULATE_DURATION_ANNOTATION: "1s", SIMULATE_LOG_ANNOTATION: "relayed line\n"}
    created = create_job(world, "over-relay", job_yaml(compute=edge, tags=tags), "-o", "none")
    assert created.returncode == 0, created.stderr

    job = wait_job(world, "over-relay")

    assert job["properties"]["status"] == "Completed", job["properties"]
    assert phases(job)[:2] == ["Queued", "Dispatched"]
    [pod] = [
        p
        for p in world.kube.list(Pod, namespace=world.namespace, labels={"tether.dev/compute": edge})
        if p.metadata is not None and (p.metadata.annotations or {}).get(JOB_NAME_ANNOTATION) == "over-relay"
    ]
    assert pod.status is not None
    assert pod.status.phase == "Succeeded"
    assert [p["phase"] for p in job["properties"]["pods"]] == ["Succeeded"]
    assert list(world.client.stream_lines(world.job_id("over-relay") + "/logs")) == ["relayed line"]


# --- B3: a missing namespace fails fast ---------------------------------------------------------------------


def test_a_job_on_a_missing_namespace_fails_within_5_s_with_namespace_not_found(world: World) -> None:
    missing = f"absent-{secrets.token_hex(3)}"
    world.attach("lost", namespace=missing)
    started = time.monotonic()
    world.client.put(world.job_id("lost-job"), arm_job(compute="lost"))
    while (job := get_job(world, "lost-job"))["properties"]["status"] not in TERMINAL:
        assert time.monotonic() - started < 5, f"still {job['properties']['status']} after 5 s"
        time.sleep(0.05)
    elapsed = time.monotonic() - started

    assert elapsed < 5
    assert job["properties"]["status"] == "Failed"
    error = job["properties"]["error"]
    assert error["code"] == "NamespaceNotFound"
    assert f"'{missing}'" in error["message"]
    assert f"'{CLUSTER}'" in error["message"]
    assert error["message"].endswith(f"Fix: kubectl create namespace {missing}")
    with pytest.raises(ApiError):  # S7: nothing created it
        world.kube.get(Namespace, missing)

    streamed = world.cli.run("ml", "job", "stream", "-g", RG, "-w", WS, "-n", "lost-job", check=False)
    assert streamed.returncode == 1
    assert f"ERROR: (NamespaceNotFound) {error['message']}" in streamed.stderr
    table = world.cli.line(f"ml job show -g {RG} -w {WS} -n lost-job -o table").stdout
    assert f"error: (NamespaceNotFound) {error['message']}" in table


# --- cancel and detach ----------------------------------------------------------------------------------------


def test_cancel_deletes_the_pods_and_the_job_ends_canceled(world: World) -> None:
    document = job_yaml(resources={"instance_count": 2}, tags={SIMULATE_DURATION_ANNOTATION: "5m"})
    created = create_job(world, "endless", document, "-o", "none")
    assert created.returncode == 0, created.stderr
    wait_job(world, "endless", "Running")
    assert len(job_pods(world, "endless")) == 2

    answer = json.loads(world.cli.line(f"ml job cancel -g {RG} -w {WS} -n endless -o json").stdout)
    assert answer["properties"]["cancelRequested"] is True

    job = wait_job(world, "endless")
    assert job["properties"]["status"] == "Canceled"
    timeline = phases(job)
    assert timeline.index("CancelRequested") < timeline.index("Canceled")
    assert sorted(p["phase"] for p in job["properties"]["pods"]) == ["Deleted", "Deleted"]
    deadline = time.monotonic() + 10
    while job_pods(world, "endless"):
        assert time.monotonic() < deadline, "the pods of a canceled job were not deleted"
        time.sleep(0.1)
    # A finished job can be deleted; an unfinished one could not.
    world.client.delete(world.job_id("endless"))
    with pytest.raises(ClientError) as caught:
        get_job(world, "endless")
    assert caught.value.code == "JobNotFound"


def test_a_compute_with_a_running_job_is_not_detached_without_force(world: World) -> None:
    world.attach("busy", namespace=world.namespace)
    document = job_yaml(compute="busy", tags={SIMULATE_DURATION_ANNOTATION: "5m"})
    created = create_job(world, "keeps-busy", document, "-o", "none")
    assert created.returncode == 0, created.stderr
    wait_job(world, "keeps-busy", "Running")

    refused = world.cli.run("ml", "compute", "detach", "-g", RG, "-w", WS, "-n", "busy", "--yes", check=False)

    assert refused.returncode == 1
    assert "ComputeHasRunningJobs" in refused.stderr
    assert "keeps-busy" in refused.stderr
    assert world.client.get(f"{world.workspace_id()}/computes/busy")["properties"]["provisioningState"] == "Succeeded"
    with pytest.raises(ClientError) as refused_delete:  # nor can the running job itself be deleted
        world.client.delete(world.job_id("keeps-busy"))
    assert (refused_delete.value.status, refused_delete.value.code) == (409, "JobNotTerminal")
    world.cli.line(f"ml job cancel -g {RG} -w {WS} -n keeps-busy -o none")
    assert wait_job(world, "keeps-busy")["properties"]["status"] == "Canceled"
    world.cli.line(f"ml compute detach -g {RG} -w {WS} -n busy --yes")
    with pytest.raises(ClientError) as caught:
        world.client.get(f"{world.workspace_id()}/computes/busy")
    assert caught.value.status == 404


# --- the control plane restarts mid-run ---------------------------------------------------------------------


def test_a_job_survives_a_control_plane_restart_mid_run(world: World) -> None:
    document = job_yaml(resources={"instance_count": 2}, tags={SIMULATE_DURATION_ANNOTATION: "15s"})
    created = create_job(world, "outlives", document, "-o", "none")
    assert created.returncode == 0, created.stderr
    wait_job(world, "outlives", "Running")
    before = {p.metadata.name: p.metadata.uid for p in job_pods(world, "outlives") if p.metadata}
    assert len(before) == 2

    world.restart_server()
    # The restart happened while the job ran (else this test proves nothing).
    assert {p.status.phase for p in job_pods(world, "outlives") if p.status} == {"Running"}

    job = wait_job(world, "outlives", timeout=40)

    assert job["properties"]["status"] == "Completed", job["properties"]
    after = {p.metadata.name: p.metadata.uid for p in job_pods(world, "outlives") if p.metadata}
    assert after == before  # no duplicate, no replacement
    assert len(tether_jobs(world, "outlives")) == 1
    assert phases(job).count("Dispatched") == 1
    assert phases(job)[-1] == "Completed"
    assert sorted(p["phase"] for p in job["properties"]["pods"]) == ["Succeeded", "Succeeded"]


# --- refusals: bad YAML, unknown instance type, training disabled ---------------------------------------------


BAD_YAML = [
    pytest.param({"epochs": 3}, 2, "unknown field(s) epochs", id="unknown-field"),
    pytest.param({"resources": {"instance_count": 1, "gpus": 2}}, 2, "unknown resources field(s) gpus", id="bad-res"),
    pytest.param({"compute": None}, 2, "'compute' is required", id="missing-compute"),
    pytest.param({"compute": "azureml:nowhere"}, 1, "Compute 'nowhere' does not exist", id="unknown-compute"),
    pytest.param(
        {"environment": "azureml:my-env@latest"},
        1,
        "The environment 'my-env' version '@latest' (environmentId) could not be found",
        id="registered-environment-missing",
    ),
]


@pytest.mark.parametrize(("change", "exit_code", "expected"), BAD_YAML)
def test_bad_job_yaml_is_refused_with_an_error_naming_the_problem(
    world: World, change: dict[str, Any], exit_code: int, expected: str
) -> None:
    document = {k: v for k, v in {**job_yaml(), **change}.items() if v is not None}
    name = f"bad-{secrets.token_hex(3)}"

    refused = create_job(world, name, document, "-o", "none")

    assert refused.returncode == exit_code, refused.stderr
    assert expected in refused.stderr
    assert name not in [j["name"] for j in world.client.list(f"{world.workspace_id()}/jobs")]


def test_an_unknown_instance_type_is_refused_at_create_listing_the_known_ones(world: World) -> None:
    """Issue 17: refused when the job is created (400 UserError), not accepted and failed later; the
    operator's UnknownInstanceType remains for an instance type deleted after the job was created."""
    created = create_job(world, "odd-type", job_yaml(resources={"instance_type": "no-such-type"}), "-o", "none")

    assert created.returncode == 1, created.stderr
    assert "(UserError) Instance type 'no-such-type' is not found in compute" in created.stderr
    known = created.stderr.split("Its cluster has: ", 1)[1]
    for name in ("defaultinstancetype", *INSTANCE_TYPES):
        assert name in known
    assert "odd-type" not in [j["name"] for j in world.client.list(f"{world.workspace_id()}/jobs")]


def _training_enabled_in_cluster(world: World) -> str:
    settings = world.kube.get(ConfigMap, "tether-extension-config", namespace="azureml")
    return str((settings.data or {}).get("enableTraining"))


def test_a_job_on_an_extension_with_training_disabled_fails_with_e45004(world: World) -> None:
    try:
        world.cli.line(f"aks create -g {RG} -n inference-aks --kubeconfig {world.kubeconfig} -o none")
        # Same physical cluster, registered again with an inference-only extension (no second operator).
        world.cli.line(
            f"k8s-extension create --name azureml --extension-type {AZUREML} --cluster-type managedClusters "
            f"--cluster-name inference-aks --resource-group {RG} --scope cluster "
            "--config enableTraining=False --config enableInference=True --config tether.operatorMode=process -o none"
        )
        world.attach("serving", namespace=world.namespace, cluster="inference-aks")
        created = create_job(world, "no-training", job_yaml(compute="serving"), "--stream", "-o", "json")

        assert created.returncode == 1
        job = json.loads(created.stdout)
        assert job["properties"]["status"] == "Failed"
        error = job["properties"]["error"]
        assert error["code"] == "E45004"
        assert (
            error["message"] == "E45004: Training feature is not enabled, please enable it when install the extension."
        )
        assert tether_jobs(world, "no-training") == []
    finally:
        world.cli.line(
            f"k8s-extension update --name azureml --cluster-type managedClusters --cluster-name {CLUSTER} "
            f"--resource-group {RG} --config enableTraining=True -o none"
        )
    assert _training_enabled_in_cluster(world) == "true"
