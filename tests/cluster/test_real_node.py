"""Jobs that really run: the local cluster's real node (kubelet + containerd + runc), through Tether.

One ``tether server`` process for the module, the local cluster registered as a managed cluster with
the ML extension (operator as a local process), a compute in a fresh namespace and an instance type
that selects the real node (``tether.dev/pod-network: host``, a 128Mi memory limit). Jobs use the
locally built base image (``tether local-cluster images``); nothing is simulated: the command runs,
its output is the log, its exit code decides the status.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod, ServiceAccount

from tests.cluster.conftest import Cli, log_in, stop_local_agents, workspace_on_managed_cluster
from tether.client import TetherClient
from tether.kube.resources import InstanceType
from tether.localcluster import LocalCluster, kubeversions
from tether.localcluster.nodeconfig import POD_NETWORK_HOST, POD_NETWORK_LABEL, REAL_NODE_NAME
from tether.localcluster.realnode import node_paths
from tether.server_process import ServerProcess

pytestmark = pytest.mark.cluster

RG = "real-rg"
WS = "real-ws"
CLUSTER = "real-aks"
COMPUTE = "real"
INSTANCE_TYPE = "treal-small"
MEMORY_LIMIT_BYTES = 128 * 1024 * 1024
TERMINAL = ("Completed", "Failed", "Canceled")


@dataclass
class World:
    server: ServerProcess
    cli: Cli
    client: TetherClient
    kube: Client
    namespace: str
    tmp: Path
    image: str
    cluster: LocalCluster

    def job_id(self, name: str) -> str:
        sub = self.client.profile.subscription_id
        workspace = f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices"
        return f"{workspace}/workspaces/{WS}/jobs/{name}"


@pytest.fixture(scope="module")
def world(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    assert local_cluster.real_nodes == 1, "these tests need the real node (TETHER_TEST_REAL_NODES unset)"
    images = kubeversions.image_references(kubeversions.default_images_dir(Path.home() / ".cache"))
    root = tmp_path_factory.mktemp("real")
    namespace = f"team-real-{secrets.token_hex(3)}"
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    server = ServerProcess.start(root / "server")
    config_dir = root / "config"
    try:
        cli = log_in(server, config_dir)
        kubeconfig = local_cluster.kubeconfig_path
        workspace_on_managed_cluster(cli, kubeconfig=kubeconfig, resource_group=RG, workspace=WS, cluster=CLUSTER)
        spec = {
            "nodeSelector": {POD_NETWORK_LABEL: POD_NETWORK_HOST},
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
        }
        with contextlib.suppress(ApiError):
            kube.delete(InstanceType, INSTANCE_TYPE)
        kube.create(InstanceType(metadata=ObjectMeta(name=INSTANCE_TYPE), spec=spec))
        sub = cli.client().profile.subscription_id
        group = f"/subscriptions/{sub}/resourceGroups/{RG}"
        cluster_id = f"{group}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"
        cli.line(
            f"ml compute attach -g {RG} -w {WS} --type Kubernetes -n {COMPUTE} --resource-id {cluster_id} "
            f"--namespace {namespace} --identity-type SystemAssigned -o none"
        )
        world = World(server, cli, cli.client(), kube, namespace, root, images[0], local_cluster)
        try:
            yield world
        finally:
            world.client.close()
    finally:
        stop_local_agents(config_dir)
        server.stop()
        with contextlib.suppress(ApiError):
            kube.delete(InstanceType, INSTANCE_TYPE)
        kube.delete(Namespace, namespace)
        kube.close()


def job_document(world: World, command: str, *, image: str | None = None) -> dict[str, Any]:
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
        "type": "command",
        "command": command,
        "environment": {"image": image or world.image},
        "compute": f"azureml:{COMPUTE}",
        "resources": {"instance_count": 1, "instance_type": INSTANCE_TYPE},
    }


def create_job(world: World, name: str, document: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    path = world.tmp / f"{name}.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return world.cli.run("ml", "job", "create", "-f", str(path), "-g", RG, "-w", WS, "-n", name, *extra, check=False)


def wait_job(world: World, name: str, *statuses: str, timeout: float = 90) -> dict[str, Any]:
    wanted = statuses or TERMINAL
    deadline = time.monotonic() + timeout
    while True:
        job = world.client.get(world.job_id(name))
        if job["properties"]["status"] in wanted:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {name} is {job['properties']['status']}, not {wanted}, after {timeout} s: {job}")
        time.sleep(0.2)


def job_pod(world: World, name: str) -> Pod:
    pods = [
        p
        for p in world.kube.list(Pod, namespace=world.namespace)
        if p.metadata is not None and (p.metadata.annotations or {}).get("tether.dev/job-name") == name
    ]
    assert len(pods) == 1, pods
    return pods[0]


def test_a_job_runs_its_command_on_the_real_node_and_its_output_is_the_log(world: World) -> None:
    command = "echo trained > /tmp/model.txt && cat /tmp/model.txt && python3 -c 'print(\"epoch 1 loss=0.042\")'"
    created = create_job(world, "runs", job_document(world, command), "--stream", "-o", "json")

    assert created.returncode == 0, created.stderr
    job = json.loads(created.stdout[created.stdout.index("{") :])
    assert job["properties"]["status"] == "Completed"
    pod = job_pod(world, "runs")
    assert pod.spec is not None
    assert pod.spec.nodeName == REAL_NODE_NAME
    streamed = world.cli.run("ml", "job", "stream", "-g", RG, "-w", WS, "-n", "runs")
    assert streamed.returncode == 0, streamed.stderr
    assert "trained" in streamed.stdout
    assert "epoch 1 loss=0.042" in streamed.stdout


def test_a_job_exiting_3_fails_with_exit_code_3_and_its_last_lines(world: World) -> None:
    created = create_job(world, "exits-3", job_document(world, "echo about to fail; exit 3"), "--stream", "-o", "json")

    assert created.returncode == 1
    job = json.loads(created.stdout[created.stdout.index("{") :])
    assert job["properties"]["status"] == "Failed"
    assert "exit code 3" in job["properties"]["error"]["message"]
    assert "about to fail" in job["properties"]["error"]["message"], "the last log lines are in the error"
    assert [p["exitCode"] for p in job["properties"]["pods"]] == [3]


def _cgroup_memory_limit(world: World, pod: Pod) -> int:
    """memory.limit_in_bytes of the pod's container, found through containerd's cgroup path."""
    assert pod.status is not None
    assert pod.status.containerStatuses
    container_id = (pod.status.containerStatuses[0].containerID or "").removeprefix("containerd://")
    assert container_id
    matches = list(Path("/sys/fs/cgroup/memory/kubepods").rglob(container_id))
    assert matches, f"no memory cgroup for container {container_id}"
    return int((matches[0] / "memory.limit_in_bytes").read_text())


def test_the_instance_types_memory_limit_is_the_containers_cgroup_limit(world: World) -> None:
    created = create_job(world, "limited", job_document(world, "sleep 30"), "-o", "none")
    assert created.returncode == 0, created.stderr
    wait_job(world, "limited", "Running")

    assert _cgroup_memory_limit(world, job_pod(world, "limited")) == MEMORY_LIMIT_BYTES
    world.cli.line(f"ml job cancel -g {RG} -w {WS} -n limited -o none")
    wait_job(world, "limited")


def _container_processes(world: World) -> list[str]:
    """Tasks containerd runs in the k8s.io namespace (the pause containers included)."""
    node = node_paths(world.cluster.paths)
    bin_dir = kubeversions.default_node_bin_dir(Path.home() / ".cache")
    argv = [str(bin_dir / "ctr"), f"--address={node.socket}", "--namespace=k8s.io", "tasks", "list", "--quiet"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


def test_cancel_stops_a_container_sleeping_for_an_hour(world: World) -> None:
    created = create_job(world, "sleeper", job_document(world, "sleep 3600"), "-o", "none")
    assert created.returncode == 0, created.stderr
    wait_job(world, "sleeper", "Running")
    pod = job_pod(world, "sleeper")
    assert pod.status is not None
    assert pod.status.containerStatuses
    container_id = (pod.status.containerStatuses[0].containerID or "").removeprefix("containerd://")
    assert container_id in _container_processes(world)

    world.cli.line(f"ml job cancel -g {RG} -w {WS} -n sleeper -o none")
    job = wait_job(world, "sleeper", timeout=60)

    assert job["properties"]["status"] == "Canceled"
    deadline = time.monotonic() + 60
    while container_id in _container_processes(world):
        assert time.monotonic() < deadline, "the canceled job's container still runs"
        time.sleep(0.2)


def test_a_job_with_an_unknown_image_fails_naming_the_image(world: World) -> None:
    image = "tether.local/no-such-image:1"
    created = create_job(world, "no-image", job_document(world, "true", image=image), "-o", "none")
    assert created.returncode == 0, created.stderr

    job = wait_job(world, "no-image")
    assert job["properties"]["status"] == "Failed"
    assert image in job["properties"]["error"]["message"]


WHOAMI = """
import base64, json, os
from azure.identity import WorkloadIdentityCredential
token = WorkloadIdentityCredential().get_token(os.environ["AZURE_AUTHORITY_HOST"].rstrip("/") + "/.default").token
payload = token.split(".")[1]
print("oid", json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["oid"])
"""


def _pod_log(world: World, name: str, namespace: str) -> str:
    return "\n".join(world.kube.log(name, namespace=namespace))


def _phase(world: World, name: str, namespace: str) -> str | None:
    status = world.kube.get(Pod, name, namespace=namespace).status
    return status.phase if status else None


def test_inside_the_container_azure_identity_gets_the_compute_identitys_token(world: World) -> None:
    command = f"python3 -c '{WHOAMI}'"
    created = create_job(world, "whoami", job_document(world, command), "--stream", "-o", "json")

    assert created.returncode == 0, created.stdout + created.stderr
    compute = world.client.get(world.job_id("whoami").rsplit("/jobs/", 1)[0] + f"/computes/{COMPUTE}")
    streamed = world.cli.run("ml", "job", "stream", "-g", RG, "-w", WS, "-n", "whoami").stdout
    assert f"oid {compute['identity']['principalId']}" in streamed


def test_the_same_code_under_another_namespaces_service_account_is_refused(world: World) -> None:
    job = job_pod(world, "whoami")  # the previous test's pod: its environment, CA and token audience
    assert job.spec is not None
    assert job.metadata is not None
    other = f"other-{secrets.token_hex(3)}"
    world.kube.create(Namespace(metadata=ObjectMeta(name=other)))
    try:
        deadline = time.monotonic() + 30
        while not list(world.kube.list(ServiceAccount, namespace=other)):
            assert time.monotonic() < deadline, "no default service account"
            time.sleep(0.2)
        spec = job.spec.to_dict()
        spec.pop("nodeName", None)
        spec["serviceAccountName"] = "default"
        annotations = {
            k: v for k, v in (job.metadata.annotations or {}).items() if k.startswith("tether.dev/authority")
        }
        pod = Pod.from_dict(
            {"metadata": {"name": "impostor", "namespace": other, "annotations": annotations}, "spec": spec}
        )
        world.kube.create(pod)
        deadline = time.monotonic() + 90
        while (phase := _phase(world, "impostor", other)) not in ("Succeeded", "Failed"):
            assert time.monotonic() < deadline, phase
            time.sleep(0.5)
        assert phase == "Failed"
        assert "AADSTS70021" in _pod_log(world, "impostor", other)
    finally:
        world.kube.delete(Namespace, other)


# Runs last in the module: it stops the operator.
def test_a_job_on_a_cluster_without_operator_says_what_it_waits_for(world: World) -> None:
    stop_local_agents(world.cli.config_dir)
    deadline = time.monotonic() + 60
    while True:
        shown = json.loads(world.cli.line(f"ml compute show -g {RG} -w {WS} -n {COMPUTE} -o json").stdout)
        health = shown["properties"]["properties"].get("extensionHealth") or {}
        if health.get("status") == "Unhealthy":
            break
        assert time.monotonic() < deadline, f"the compute never showed the stopped operator: {health}"
        time.sleep(0.5)
    assert "operator" in health["reason"]
    time.sleep(6)  # the dispatcher's cached cluster facts (read_cache_s = 5 s) expire

    created = create_job(world, "unattended", job_document(world, "true"), "-o", "none")
    assert created.returncode == 0, created.stderr

    deadline = time.monotonic() + 30
    while True:
        job = world.client.get(world.job_id("unattended"))
        dispatched = [e for e in job["properties"]["timeline"] if e["phase"] == "Dispatched"]
        if dispatched:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    reason = dispatched[0]["reason"]
    assert "waiting for the ML extension's operator" in reason
    assert "Unhealthy" in reason
    assert job["properties"]["status"] == "Queued"
