"""The ML extension's job controller against the real local cluster: TetherJob → pods → status.

The extension is installed idempotently (never uninstalled: other modules share the ``azureml``
install) and one operator runs for the module as a subprocess with its own ServiceAccount's
kubeconfig, as on simulated-node clusters; tests that need it stopped or restarted do so through
``operator``. Each test uses its own namespace; the InstanceTypes this module creates (``tjt-*``) are
deleted at its end. Pods do not execute (kwok): ``podAnnotations`` choose how long they "run" and
their exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Event, Namespace, Node, Pod, ServiceAccount
from lightkube.types import PatchType

from tether.agents.extension.jobs import E45004_MESSAGE, reconcile_job
from tether.agents.extension.jobspec import JobSpec
from tether.agents.extension.placement import TIMES
from tether.agents.extension.pods import JobRef, render_pod, render_service_account
from tether.kube import extension_manifests as m
from tether.kube.extension_install import install, operator_kubeconfig
from tether.kube.extension_status import BUILT_IN_DEFAULT, InstanceTypeInfo
from tether.kube.resources import InstanceType, TetherJob
from tether.localcluster import (
    NODE_POOL_LABEL,
    SIMULATE_DURATION_ANNOTATION,
    SIMULATE_EXIT_ANNOTATION,
    SIMULATE_LOG_ANNOTATION,
    LocalCluster,
)

pytestmark = pytest.mark.cluster

CONFIG = m.ExtensionConfig(in_cluster=False)
ACCOUNT = "tether-compute-c1"
WORKSPACE_ID = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1"
IDENTITY = {
    "clientId": "11111111-2222-3333-4444-555555555555",
    "tenantId": "66666666-7777-8888-9999-000000000000",
    "authorityHost": "https://tether.example:8443/",
    "serviceAccountName": ACCOUNT,
}
INSTANCE_TYPES: dict[str, dict[str, Any]] = {
    "tjt-cpu": {
        "nodeSelector": {NODE_POOL_LABEL: "cpu"},
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    },
    "tjt-wide": {  # 5 of a CPU node's 8 CPUs: one such pod per node
        "nodeSelector": {NODE_POOL_LABEL: "cpu"},
        "resources": {"requests": {"cpu": "5", "memory": "1Gi"}, "limits": {"cpu": "5", "memory": "1Gi"}},
    },
    "tjt-gpu": {
        "nodeSelector": {NODE_POOL_LABEL: "gpu"},
        "resources": {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": 1},
        },
    },
}


# --- fixtures -----------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def installed(local_cluster: LocalCluster) -> AsyncIterator[None]:
    async with local_cluster.client() as client:
        await install(client, CONFIG)
        for name, spec in INSTANCE_TYPES.items():
            with contextlib.suppress(ApiError):
                await client.delete(InstanceType, name)
            await client.create(InstanceType(metadata=ObjectMeta(name=name), spec=spec))
        try:
            yield
        finally:
            for name in INSTANCE_TYPES:
                with contextlib.suppress(ApiError):
                    await client.delete(InstanceType, name)


class Operator:
    """The operator subprocess; ``stop``/``start`` to take it down and bring it back mid-test."""

    def __init__(self, kubeconfig: Path, log_dir: Path) -> None:
        self._kubeconfig, self._log_dir = kubeconfig, log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._runs = 0

    def start(self) -> None:
        self._runs += 1
        log = (self._log_dir / f"operator-{self._runs}.log").open("wb")
        argv = [sys.executable, "-m", "tether.cli.agent_extension", "--kubeconfig", str(self._kubeconfig)]
        self._process = subprocess.Popen([*argv, "--interval", "1"], stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up, as a crash or an OOM kill would leave things."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self._log_dir.glob("operator-*.log")))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def operator(
    installed: None, local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Operator]:
    async with local_cluster.client() as client:
        text = await operator_kubeconfig(
            client, server_url=local_cluster.server_url, ca_pem=local_cluster.ca_path.read_text()
        )
    directory = tmp_path_factory.mktemp("operator-jobs")
    path = directory / "operator.kubeconfig"
    path.write_text(text)
    path.chmod(0o600)
    running = Operator(path, directory)
    running.start()
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop)


# --- helpers ------------------------------------------------------------------------------------------


def _spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "jobName": "sincere_lemon_1",
        "command": "python train.py --epochs 2",
        "image": "python:3.11",
        "computeName": "c1",
        "workspaceId": WORKSPACE_ID,
        "instanceType": "tjt-cpu",
        "instanceCount": 1,
        "identity": dict(IDENTITY),
        "podAnnotations": {SIMULATE_DURATION_ANNOTATION: "1s"},
    }
    spec.update(overrides)
    return spec


async def _submit(client: AsyncClient, namespace: str, name: str, **overrides: Any) -> Any:
    job = TetherJob(metadata=ObjectMeta(name=name, namespace=namespace), spec=_spec(**overrides))
    return await client.create(job)


async def _status(client: AsyncClient, namespace: str, name: str) -> dict[str, Any]:
    job = await client.get(TetherJob, name, namespace=namespace)
    return dict(job.get("status") or {})


async def _wait_for(
    client: AsyncClient, namespace: str, name: str, *phases: str, operator: Operator, timeout: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = await _status(client, namespace, name)
        if status.get("phase") in phases:
            return status
        if time.monotonic() > deadline:
            pytest.fail(
                f"TetherJob {namespace}/{name} not {phases} in {timeout} s: {status}\n{operator.logs()[-3000:]}"
            )
        await asyncio.sleep(0.2)


async def _pods(client: AsyncClient, namespace: str, job: str) -> list[Pod]:
    pods = [p async for p in client.list(Pod, namespace=namespace, labels={"tether.dev/job": job})]
    return sorted(pods, key=lambda p: p.metadata.name if p.metadata and p.metadata.name else "")


async def _pool(client: AsyncClient, node: str) -> str:
    found = await client.get(Node, node)
    assert found.metadata is not None
    assert found.metadata.labels is not None
    return str(found.metadata.labels[NODE_POOL_LABEL])


# --- tests --------------------------------------------------------------------------------------------


async def test_a_job_gets_its_pods_with_identity_resources_and_annotations_and_succeeds(
    operator: Operator, kube_client: AsyncClient, namespace: str
) -> None:
    annotations = {SIMULATE_DURATION_ANNOTATION: "2s", SIMULATE_LOG_ANNOTATION: "epoch 1\nepoch 2\n"}
    env = {"EPOCHS": "2", "AZURE_CLIENT_ID": "spoofed"}
    await _submit(
        kube_client, namespace, "train", instanceCount=2, podAnnotations=annotations, environmentVariables=env
    )

    await _wait_for(kube_client, namespace, "train", "Starting", "Running", "Succeeded", operator=operator)
    pods = await _pods(kube_client, namespace, "train")

    assert [p.metadata.name for p in pods if p.metadata] == ["train-0", "train-1"]
    for index, pod in enumerate(pods):
        assert pod.metadata is not None
        assert pod.spec is not None
        assert pod.metadata.labels is not None
        assert pod.metadata.annotations is not None
        assert pod.metadata.labels["tether.dev/compute"] == "c1"
        assert pod.metadata.labels["tether.dev/workspace"] == "ws1"
        assert pod.metadata.labels["tether.dev/instance-index"] == str(index)
        assert {k: pod.metadata.annotations[k] for k in annotations} == annotations
        [owner] = pod.metadata.ownerReferences or []
        assert (owner.kind, owner.name, owner.controller) == ("TetherJob", "train", True)
        assert pod.spec.restartPolicy == "Never"
        assert pod.spec.serviceAccountName == ACCOUNT
        assert pod.spec.automountServiceAccountToken is False
        assert pod.spec.nodeSelector == {NODE_POOL_LABEL: "cpu"}
        [container] = pod.spec.containers
        assert container.command == ["/bin/sh", "-c", "python train.py --epochs 2"]
        assert container.resources is not None
        assert container.resources.requests == {"cpu": "500m", "memory": "1Gi"}
        assert container.resources.limits == {"cpu": "1", "memory": "2Gi"}
        variables = {e.name: e.value for e in container.env or []}
        assert variables["EPOCHS"] == "2"
        assert variables["AZURE_CLIENT_ID"] == IDENTITY["clientId"]
        assert variables["AZURE_TENANT_ID"] == IDENTITY["tenantId"]
        assert variables["AZURE_AUTHORITY_HOST"] == IDENTITY["authorityHost"]
        assert variables["AZURE_FEDERATED_TOKEN_FILE"] == "/var/run/secrets/azure/tokens/azure-identity-token"
        assert variables["TETHER_INSTANCE_INDEX"] == str(index)
        assert not [e for e in container.env or [] if e.valueFrom is not None]
        [mount] = container.volumeMounts or []
        assert (mount.name, mount.mountPath) == ("azure-identity-token", "/var/run/secrets/azure/tokens")
        [volume] = pod.spec.volumes or []
        assert volume.secret is None
        assert volume.projected is not None
        [source] = volume.projected.sources or []
        assert source.serviceAccountToken is not None
        token = source.serviceAccountToken
        assert (token.audience, token.expirationSeconds, token.path) == (
            "api://AzureADTokenExchange",
            3600,
            "azure-identity-token",
        )
    account = await kube_client.get(ServiceAccount, ACCOUNT, namespace=namespace)
    assert account.metadata is not None
    assert account.metadata.annotations is not None
    assert account.metadata.annotations["azure.workload.identity/client-id"] == IDENTITY["clientId"]
    assert not account.secrets

    status = await _wait_for(kube_client, namespace, "train", "Succeeded", operator=operator)

    assert status["reason"] == "PodsSucceeded"
    assert [(p["name"], p["phase"], p["exitCode"]) for p in status["pods"]] == [
        ("train-0", "Succeeded", 0),
        ("train-1", "Succeeded", 0),
    ]
    for entry in status["pods"]:
        assert await _pool(kube_client, entry["nodeName"]) == "cpu"
        assert entry["startTime"] <= entry["finishTime"]
    assert status["startTime"] <= status["runningTime"] <= status["completionTime"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Admitted": "True",
        "Running": "False",
        "Finished": "True",
    }
    assert len(await _pods(kube_client, namespace, "train")) == 2  # kept for their logs


async def test_a_failing_pod_fails_the_job_with_its_exit_code(
    operator: Operator, kube_client: AsyncClient, namespace: str
) -> None:
    await _submit(kube_client, namespace, "fails", podAnnotations={SIMULATE_EXIT_ANNOTATION: "3"})

    status = await _wait_for(kube_client, namespace, "fails", "Failed", "Succeeded", operator=operator)

    assert status["phase"] == "Failed"
    assert status["reason"] == "PodFailed"
    assert "pod fails-0 failed with exit code 3" in status["message"]
    assert status["pods"][0]["exitCode"] == 3
    deadline = time.monotonic() + 5
    while not [e async for e in kube_client.list(Event, namespace=namespace) if e.reason == "PodFailed"]:
        assert time.monotonic() < deadline, "no PodFailed Event on the TetherJob"
        await asyncio.sleep(0.2)


async def test_a_gpu_instance_type_lands_on_the_gpu_node(
    operator: Operator, kube_client: AsyncClient, namespace: str
) -> None:
    await _submit(kube_client, namespace, "gpu", instanceType="tjt-gpu")

    status = await _wait_for(kube_client, namespace, "gpu", "Succeeded", "Failed", operator=operator)

    assert status["phase"] == "Succeeded", status
    assert await _pool(kube_client, status["pods"][0]["nodeName"]) == "gpu"
    [pod] = await _pods(kube_client, namespace, "gpu")
    assert pod.spec is not None
    assert pod.spec.containers[0].resources is not None
    assert pod.spec.containers[0].resources.limits == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}


async def test_a_gang_that_does_not_fit_waits_without_pods_and_starts_when_room_frees(
    operator: Operator, kube_client: AsyncClient, namespace: str
) -> None:
    await _submit(
        kube_client, namespace, "blocker", instanceType="tjt-wide", podAnnotations={SIMULATE_DURATION_ANNOTATION: "4s"}
    )
    await _wait_for(kube_client, namespace, "blocker", "Running", operator=operator)

    await _submit(kube_client, namespace, "gang", instanceType="tjt-wide", instanceCount=2)
    waiting = await _wait_for(kube_client, namespace, "gang", "Pending", "Starting", "Running", operator=operator)

    assert waiting["phase"] == "Pending", waiting
    assert waiting["reason"] == "WaitingForCapacity"
    assert f"needs 2 pods {TIMES} (cpu 5, memory 1Gi); nodes with room: 1" in waiting["message"]
    assert await _pods(kube_client, namespace, "gang") == []
    assert waiting["pods"] == []

    status = await _wait_for(kube_client, namespace, "gang", "Succeeded", "Failed", operator=operator, timeout=30)

    assert status["phase"] == "Succeeded", status
    blocker = await _status(kube_client, namespace, "blocker")
    assert blocker["completionTime"] <= status["startTime"]
    assert {p["nodeName"] for p in status["pods"]} == {"kwok-cpu-0", "kwok-cpu-1"}


async def test_cancel_deletes_the_pods(operator: Operator, kube_client: AsyncClient, namespace: str) -> None:
    await _submit(kube_client, namespace, "long", instanceCount=2, podAnnotations={SIMULATE_DURATION_ANNOTATION: "5m"})
    await _wait_for(kube_client, namespace, "long", "Running", operator=operator)

    patch = {"spec": {"cancelRequested": True}}
    await kube_client.patch(TetherJob, "long", patch, namespace=namespace, patch_type=PatchType.MERGE)
    status = await _wait_for(kube_client, namespace, "long", "Canceled", operator=operator)

    assert status["reason"] == "CancelRequested"
    assert [(p["name"], p["phase"]) for p in status["pods"]] == [("long-0", "Deleted"), ("long-1", "Deleted")]
    assert "completionTime" in status
    deadline = time.monotonic() + 10
    while await _pods(kube_client, namespace, "long"):
        assert time.monotonic() < deadline, "the pods of a canceled job were not deleted"
        await asyncio.sleep(0.2)


async def test_the_spec_is_immutable_but_for_cancel(installed: None, kube_client: AsyncClient, namespace: str) -> None:
    await _submit(kube_client, namespace, "fixed", cancelRequested=True)

    for change in ({"podAnnotations": {"a": "b"}}, {"cancelRequested": False}):
        with pytest.raises(ApiError) as caught:
            await kube_client.patch(
                TetherJob, "fixed", {"spec": change}, namespace=namespace, patch_type=PatchType.MERGE
            )
        assert caught.value.status.code == 422


async def test_an_unknown_instance_type_fails_listing_the_known_ones(
    operator: Operator, kube_client: AsyncClient, namespace: str
) -> None:
    await _submit(kube_client, namespace, "unknown", instanceType="no-such-type")

    status = await _wait_for(kube_client, namespace, "unknown", "Failed", operator=operator)

    assert status["reason"] == "UnknownInstanceType"
    assert "'no-such-type' not found" in status["message"]
    assert "defaultinstancetype, tjt-cpu, tjt-gpu, tjt-wide" in status["message"]
    assert await _pods(kube_client, namespace, "unknown") == []


async def test_restarting_the_operator_mid_run_creates_no_duplicate_pods(
    operator: Operator, kube_client: AsyncClient, namespace: str
) -> None:
    await _submit(
        kube_client, namespace, "steady", instanceCount=2, podAnnotations={SIMULATE_DURATION_ANNOTATION: "5s"}
    )
    await _wait_for(kube_client, namespace, "steady", "Running", operator=operator)
    before = {p.metadata.name: p.metadata.uid for p in await _pods(kube_client, namespace, "steady") if p.metadata}

    await asyncio.to_thread(operator.kill)
    await asyncio.to_thread(operator.start)
    status = await _wait_for(kube_client, namespace, "steady", "Succeeded", "Failed", operator=operator, timeout=30)

    assert status["phase"] == "Succeeded", status
    after = {p.metadata.name: p.metadata.uid for p in await _pods(kube_client, namespace, "steady") if p.metadata}
    assert after == before
    assert len(after) == 2


async def _disabled_training_namespace(client: AsyncClient) -> str:
    """A release namespace whose settings say training is off (the shared ``azureml`` one stays as it is)."""
    name = f"tjt-release-{secrets.token_hex(3)}"
    await client.create(Namespace(metadata=ObjectMeta(name=name)))
    data = m.settings_data(m.ExtensionConfig(enable_training=False, enable_inference=True, in_cluster=False))
    await client.create(ConfigMap(metadata=ObjectMeta(name=m.CONFIG_MAP_NAME, namespace=name), data=data))
    return name


async def test_an_interrupted_gang_is_completed_and_training_off_fails_with_e45004(
    operator: Operator, kube_client: AsyncClient, namespace: str
) -> None:
    await asyncio.to_thread(operator.stop)
    release = await _disabled_training_namespace(kube_client)
    try:
        # An operator that died after creating the first pod of two.
        job = await _submit(kube_client, namespace, "half", instanceCount=2)
        spec = JobSpec.from_cr(job["spec"])
        it = InstanceTypeInfo.from_arm("tjt-cpu", INSTANCE_TYPES["tjt-cpu"])
        first = render_pod(JobRef(namespace, "half", job.metadata.uid), spec, index=0, instance_type=it)
        account = render_service_account(namespace, spec)
        assert account is not None
        await kube_client.create(cast(ServiceAccount, ServiceAccount.from_dict(account)))
        created = await kube_client.create(cast(Pod, Pod.from_dict(first)))

        await _submit(kube_client, namespace, "off", instanceType=BUILT_IN_DEFAULT.name)
        await reconcile_job(kube_client, namespace=namespace, name="off", release_namespace=release)
        off = await _status(kube_client, namespace, "off")
        assert (off["phase"], off["reason"], off["message"]) == ("Failed", "E45004", E45004_MESSAGE)
        assert await _pods(kube_client, namespace, "off") == []
    finally:
        await asyncio.to_thread(operator.start)
        await kube_client.delete(Namespace, release)

    status = await _wait_for(kube_client, namespace, "half", "Succeeded", "Failed", operator=operator, timeout=30)

    assert status["phase"] == "Succeeded", status
    pods = await _pods(kube_client, namespace, "half")
    assert [p.metadata.name for p in pods if p.metadata] == ["half-0", "half-1"]
    assert pods[0].metadata is not None
    assert created.metadata is not None
    assert pods[0].metadata.uid == created.metadata.uid
    assert (await _status(kube_client, namespace, "off"))["phase"] == "Failed"
