"""The ML extension against the real local cluster: install, CRD validation by the API server, the
operator as a local process (heartbeat, status, instance types), its least-privilege identity, uninstall.

The extension is installed into ``azureml`` once for this module (``installed``) and uninstalled at
the end, CRDs included, so later modules start from a clean cluster. The operator runs as a subprocess
(``python -m tether.cli.agent_extension``) with the kubeconfig of its own ServiceAccount, as it does on
simulated-node clusters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
import yaml
from lightkube import AsyncClient, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding, Role, RoleBinding

from tether.agents.extension.checks import collect_status
from tether.agents.extension.operator import write_heartbeat, write_status
from tether.kube import extension_manifests as m
from tether.kube.extension_install import install, operator_kubeconfig, uninstall
from tether.kube.extension_status import ExtensionHealth, read_health, read_instance_types
from tether.kube.resources import InstanceType
from tether.localcluster import LocalCluster

pytestmark = pytest.mark.cluster

CONFIG = m.ExtensionConfig(in_cluster=False)
T = TypeVar("T")


async def _eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, timeout: float) -> T:
    """Poll ``probe`` until ``accept`` holds; fail with the last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached in {timeout} s; last value: {value!r}")
        await asyncio.sleep(0.25)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def installed(local_cluster: LocalCluster) -> AsyncIterator[None]:
    async with local_cluster.client() as client:
        await install(client, CONFIG)
        try:
            yield
        finally:
            # The uninstall test re-creates the CRDs just before this runs. kube-apiserver's CRD finalizer can
            # then fail once with "storage is (re)initializing" and retry only after a back-off (seen: ~100 s
            # in a clean-clone run). Later modules install the extension again, which is refused while a CRD is
            # still terminating, so wait here for as long as that takes rather than the product's 60 s.
            await uninstall(client, CONFIG, delete_crds=True, timeout_s=300)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def operator_kubeconfig_path(
    installed: None, local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    async with local_cluster.client() as client:
        text = await operator_kubeconfig(
            client, server_url=local_cluster.server_url, ca_pem=local_cluster.ca_path.read_text()
        )
    path = tmp_path_factory.mktemp("extension") / "operator.kubeconfig"
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest_asyncio.fixture(loop_scope="session")
async def operator_client(operator_kubeconfig_path: Path) -> AsyncIterator[AsyncClient]:
    """A client acting as the operator's ServiceAccount (what the local-process operator is)."""
    config = KubeConfig.from_dict(yaml.safe_load(operator_kubeconfig_path.read_text()))
    async with AsyncClient(config=config, trust_env=False) as client:
        yield client


class OperatorProcess:
    def __init__(self, kubeconfig: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        argv = [sys.executable, "-m", "tether.cli.agent_extension", "--kubeconfig", str(kubeconfig), "--interval", "1"]
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=dict(os.environ))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def start_operator(operator_kubeconfig_path: Path, tmp_path: Path) -> Iterator[Callable[[], OperatorProcess]]:
    started: list[OperatorProcess] = []

    def start() -> OperatorProcess:
        operator = OperatorProcess(operator_kubeconfig_path, tmp_path / f"operator-{len(started)}.log")
        started.append(operator)
        return operator

    yield start
    for operator in started:
        operator.stop()


async def _forget_the_operator(client: AsyncClient) -> None:
    """Delete the heartbeat and the report so that the next reading reflects a fresh operator only."""
    for res, name in ((Lease, m.HEARTBEAT_LEASE_NAME), (ConfigMap, m.STATUS_CONFIG_MAP_NAME)):
        try:
            await client.delete(res, name, namespace="azureml")
        except ApiError as e:
            if e.status.code != 404:
                raise


def _instance_type(name: str, spec: dict[str, Any] | None) -> Any:
    return (
        InstanceType(metadata={"name": name}, spec=spec) if spec is not None else InstanceType(metadata={"name": name})
    )


def _resources(requests: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    return {"resources": {"requests": requests, "limits": limits}}


# --- install ------------------------------------------------------------------------------------------


async def test_install_establishes_the_crds_and_creates_the_rbac(installed: None, kube_client: AsyncClient) -> None:
    for name in m.CRD_NAMES:
        crd = await kube_client.get(CustomResourceDefinition, name)
        assert crd.status is not None
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])
    await kube_client.get(ServiceAccount, m.SERVICE_ACCOUNT_NAME, namespace="azureml")
    for name in (m.CLUSTER_ROLE_NAME, m.WORKLOADS_CLUSTER_ROLE_NAME):
        await kube_client.get(ClusterRole, name)
        binding = await kube_client.get(ClusterRoleBinding, name)
        assert binding.subjects is not None
        assert [(s.name, s.namespace) for s in binding.subjects] == [("tether-extension", "azureml")]
    await kube_client.get(Role, m.EXTENSION_NAME, namespace="azureml")
    await kube_client.get(RoleBinding, m.EXTENSION_NAME, namespace="azureml")
    settings = await kube_client.get(ConfigMap, m.CONFIG_MAP_NAME, namespace="azureml")
    assert settings.data is not None
    assert settings.data["operatorMode"] == "local-process"
    with pytest.raises(ApiError) as caught:
        await kube_client.get(Deployment, m.DEPLOYMENT_NAME, namespace="azureml")
    assert caught.value.status.code == 404


async def test_install_is_idempotent(installed: None, kube_client: AsyncClient) -> None:
    before = {name: await kube_client.get(CustomResourceDefinition, name) for name in m.CRD_NAMES}
    settings_before = await kube_client.get(ConfigMap, m.CONFIG_MAP_NAME, namespace="azureml")

    first = await install(kube_client, CONFIG)
    second = await install(kube_client, CONFIG)

    assert first == second
    assert {(a.kind, a.name) for a in second.applied} == {(o["kind"], o["metadata"]["name"]) for o in m.render(CONFIG)}
    for name, crd in before.items():
        again = await kube_client.get(CustomResourceDefinition, name)
        assert again.metadata is not None
        assert crd.metadata is not None
        assert again.metadata.generation == crd.metadata.generation
    settings_after = await kube_client.get(ConfigMap, m.CONFIG_MAP_NAME, namespace="azureml")
    assert settings_after.metadata is not None
    assert settings_before.metadata is not None
    assert settings_after.metadata.resourceVersion == settings_before.metadata.resourceVersion


# --- InstanceType validation by the API server --------------------------------------------------------

INVALID_INSTANCE_TYPES = [
    pytest.param(
        {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
        "spec.resources.requests: Required value",
        id="missing-requests",
    ),
    pytest.param(
        _resources({"memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}),
        "spec.resources.requests.cpu: Required value",
        id="missing-request-cpu",
    ),
    pytest.param(
        _resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1"}),
        "spec.resources.limits.memory: Required value",
        id="missing-limit-memory",
    ),
    pytest.param(
        _resources({"cpu": "0", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}),
        "resources.requests.cpu must be greater than zero",
        id="zero-cpu",
    ),
    pytest.param(
        _resources({"cpu": "100m", "memory": 0}, {"cpu": "1", "memory": "1Gi"}),
        "resources.requests.memory must be greater than zero",
        id="zero-memory",
    ),
    pytest.param(
        _resources({"cpu": "lots", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}),
        "resources.requests.cpu must be a Kubernetes quantity",
        id="not-a-quantity",
    ),
    pytest.param(
        _resources(
            {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1}, {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1}
        ),
        "resources.requests must not contain nvidia.com/gpu",
        id="gpu-in-requests",
    ),
    pytest.param(
        _resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1.5}),
        "spec.resources.limits.nvidia.com/gpu in body must be of type integer",
        id="fractional-gpu",
    ),
    pytest.param(
        _resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "one"}),
        "spec.resources.limits.nvidia.com/gpu in body must be of type integer",
        id="gpu-string",
    ),
    pytest.param(
        _resources({"cpu": "2", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}),
        "resources.limits.cpu must be at least resources.requests.cpu",
        id="limit-below-request",
    ),
    pytest.param(None, "spec: Required value", id="no-spec"),
]


@pytest.mark.parametrize(("spec", "message"), INVALID_INSTANCE_TYPES)
async def test_an_invalid_instance_type_is_refused_by_the_api_server(
    installed: None, kube_client: AsyncClient, spec: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await kube_client.create(_instance_type("invalid", spec))

    assert caught.value.status.code == 422
    assert message in (caught.value.status.message or "")


async def test_a_valid_instance_type_is_accepted(installed: None, kube_client: AsyncClient) -> None:
    spec = {"nodeSelector": {"tether.dev/node-pool": "gpu"}}
    spec |= _resources({"cpu": 2, "memory": "8Gi"}, {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": 1})
    created = await kube_client.create(_instance_type("valid-gpu", spec))
    try:
        assert created["spec"] == spec
        listed = {it.name: it for it in await read_instance_types(kube_client)}
        assert listed["valid-gpu"].gpus == 1
        assert listed["valid-gpu"].requests == {"cpu": "2", "memory": "8Gi"}
        assert listed["defaultinstancetype"].built_in
    finally:
        await kube_client.delete(InstanceType, "valid-gpu")


# --- the operator -------------------------------------------------------------------------------------


def _healthy_from(operator: OperatorProcess) -> Callable[[ExtensionHealth], bool]:
    """Healthy, and vouched for by this operator process (not by an earlier one's fresh heartbeat)."""
    return lambda health: health.healthy and (health.holder or "").endswith(f"/{operator.process.pid}")


async def test_operator_reports_health_and_instance_types(
    installed: None,
    kube_client: AsyncClient,
    start_operator: Callable[[], OperatorProcess],
    local_cluster: LocalCluster,
) -> None:
    await _forget_the_operator(kube_client)
    never = await read_health(kube_client)
    assert not never.healthy
    assert never.reason is not None
    assert never.reason.startswith("no heartbeat: the operator never started")

    operator = start_operator()
    health = await _eventually(lambda: read_health(kube_client), _healthy_from(operator), timeout=15)

    assert health.reason is None, operator.log()
    assert health.status is not None
    assert health.status.training_enabled
    assert {c.name for c in health.status.checks} == {"config", "crds", "nodes", "tetherJobs", "instanceTypes"}
    assert health.status.nodes is not None
    nodes = local_cluster.cpu_nodes + local_cluster.gpu_nodes + local_cluster.real_nodes  # real: kubelet's
    assert (health.status.nodes.count, health.status.nodes.gpu_nodes) == (nodes, 1)
    assert [it.name for it in health.instance_types] == ["defaultinstancetype"]

    custom = _resources({"cpu": "1", "memory": "4Gi"}, {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": 1})
    override = {"nodeSelector": {"tether.dev/node-pool": "cpu"}} | _resources(
        {"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}
    )
    await kube_client.create(_instance_type("gpu-small", custom))
    await kube_client.create(_instance_type("defaultinstancetype", override))
    try:
        health = await _eventually(
            lambda: read_health(kube_client), lambda h: len(h.instance_types) == 2 and h.healthy, timeout=15
        )
        by_name = {it.name: it for it in health.instance_types}
        assert by_name["gpu-small"].gpus == 1
        assert not by_name["defaultinstancetype"].built_in
        assert by_name["defaultinstancetype"].requests == {"cpu": "500m", "memory": "1Gi"}
        assert by_name["defaultinstancetype"].node_selector == {"tether.dev/node-pool": "cpu"}
        assert [it.to_arm() for it in await read_instance_types(kube_client)] == [
            by_name["defaultinstancetype"].to_arm(),
            by_name["gpu-small"].to_arm(),
        ]
    finally:
        await kube_client.delete(InstanceType, "gpu-small")
        await kube_client.delete(InstanceType, "defaultinstancetype")

    operator.process.kill()
    operator.process.wait(timeout=10)
    stale = await _eventually(lambda: read_health(kube_client, stale_after_s=2), lambda h: not h.healthy, timeout=15)
    assert stale.reason is not None
    assert stale.reason.startswith("operator heartbeat is ")
    assert "old: is the tether-extension operator running?" in stale.reason


async def _write_pass(client: AsyncClient, *, observed_s_ago: float, renewed_s_ago: float) -> None:
    """Write a status report and a held heartbeat as an operator's pass would, at chosen ages."""
    now = datetime.now(UTC)
    report = await collect_status(client, namespace="azureml", version="test")
    report = dataclasses.replace(report, observed_at=now - timedelta(seconds=observed_s_ago))
    await write_status(client, report, namespace="azureml")
    renewed = now - timedelta(seconds=renewed_s_ago)
    await write_heartbeat(client, namespace="azureml", holder="test/1", renewed=renewed, acquired=renewed)


async def test_a_report_written_just_before_its_heartbeat_is_judged_by_the_heartbeat(
    installed: None, kube_client: AsyncClient
) -> None:
    # An operator that died leaves a report a pass's writes older than its last heartbeat; while the
    # heartbeat is still fresh, that report is the operator's latest and not a sign of anything wrong.
    await _forget_the_operator(kube_client)
    await _write_pass(kube_client, observed_s_ago=10.5, renewed_s_ago=5)

    health = await read_health(kube_client, stale_after_s=10)

    assert health.healthy, health.reason


async def test_a_heartbeat_renewed_without_a_report_says_so(installed: None, kube_client: AsyncClient) -> None:
    await _forget_the_operator(kube_client)
    await _write_pass(kube_client, observed_s_ago=30, renewed_s_ago=0)

    health = await read_health(kube_client, stale_after_s=10)

    assert not health.healthy
    assert health.reason is not None
    assert health.reason.startswith("the operator's status report is 30 s older than its heartbeat: "), health.reason


async def test_operator_stops_cleanly_on_sigterm_and_releases_its_heartbeat(
    installed: None, kube_client: AsyncClient, start_operator: Callable[[], OperatorProcess]
) -> None:
    await _forget_the_operator(kube_client)
    operator = start_operator()
    await _eventually(lambda: read_health(kube_client), _healthy_from(operator), timeout=15)

    operator.process.send_signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(operator.process.wait, 15)

    assert exit_code == 0, operator.log()
    health = await read_health(kube_client)
    assert not health.healthy
    assert health.reason is not None
    assert health.reason.startswith("the operator stopped"), health.reason
    lease = await kube_client.get(Lease, m.HEARTBEAT_LEASE_NAME, namespace="azureml")
    assert lease.spec is not None
    assert not lease.spec.holderIdentity


async def test_a_failing_check_makes_the_extension_unhealthy_with_the_api_servers_words(
    installed: None, kube_client: AsyncClient, start_operator: Callable[[], OperatorProcess]
) -> None:
    await _forget_the_operator(kube_client)
    operator = start_operator()
    await _eventually(lambda: read_health(kube_client), _healthy_from(operator), timeout=15)

    await kube_client.delete(ClusterRoleBinding, m.CLUSTER_ROLE_NAME)  # the operator loses its cluster reads
    try:
        health = await _eventually(lambda: read_health(kube_client), lambda h: not h.healthy, timeout=15)
    finally:
        await install(kube_client, CONFIG)

    assert health.reason is not None
    assert health.reason.startswith("extension checks failed: "), health.reason
    assert "crds: check crds: the Kubernetes API server answered 403" in health.reason
    assert "tetherJobs: the operator's ServiceAccount may not watch tetherjobs" in health.reason
    await _eventually(lambda: read_health(kube_client), _healthy_from(operator), timeout=15)


async def test_operator_once_prints_a_passing_report_and_does_not_pose_as_running(
    installed: None, kube_client: AsyncClient, operator_kubeconfig_path: Path
) -> None:
    argv = [sys.executable, "-m", "tether.cli.agent_extension", "--kubeconfig", str(operator_kubeconfig_path), "--once"]
    done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    report = yaml.safe_load(done.stdout)
    assert report["healthy"] == "true"
    assert report["defaultInstanceType"] == "defaultinstancetype"
    health = await read_health(kube_client)
    assert not health.healthy
    assert health.reason is not None
    assert health.reason.startswith("the operator stopped")


# --- least privilege ----------------------------------------------------------------------------------


async def _allowed(client: AsyncClient, **attributes: str) -> bool:
    review = SelfSubjectAccessReview(
        spec=SelfSubjectAccessReviewSpec(resourceAttributes=ResourceAttributes(**attributes))
    )
    answer = await client.create(review)
    assert answer.status is not None
    return answer.status.allowed


DENIED = [
    pytest.param({"verb": "delete", "resource": "namespaces"}, id="delete-namespaces"),
    pytest.param({"verb": "get", "resource": "secrets", "namespace": "kube-system"}, id="read-kube-system-secrets"),
    pytest.param({"verb": "list", "resource": "secrets"}, id="list-secrets"),
    pytest.param({"verb": "get", "resource": "secrets", "namespace": "team-a"}, id="read-workload-secrets"),
    pytest.param({"verb": "create", "resource": "pods", "subresource": "exec", "namespace": "default"}, id="exec"),
    pytest.param({"verb": "update", "resource": "nodes"}, id="update-nodes"),
    pytest.param({"verb": "update", "group": "tether.dev", "resource": "tetherjobs"}, id="update-job-spec"),
    pytest.param(
        {"verb": "create", "group": "amlarc.azureml.com", "resource": "instancetypes"}, id="write-instancetypes"
    ),
    pytest.param(
        {"verb": "create", "group": "rbac.authorization.k8s.io", "resource": "clusterrolebindings"}, id="rbac"
    ),
    pytest.param(
        {"verb": "update", "resource": "configmaps", "namespace": "azureml", "name": m.CONFIG_MAP_NAME},
        id="rewrite-own-settings",
    ),
    pytest.param(
        {"verb": "update", "resource": "configmaps", "namespace": "default", "name": "x"}, id="other-configmaps"
    ),
]

ALLOWED = [
    pytest.param({"verb": "watch", "group": "tether.dev", "resource": "tetherjobs"}, id="watch-jobs"),
    pytest.param(
        {"verb": "patch", "group": "tether.dev", "resource": "tetherjobs", "subresource": "status"}, id="job-status"
    ),
    pytest.param({"verb": "list", "resource": "nodes"}, id="list-nodes"),
    pytest.param({"verb": "list", "group": "amlarc.azureml.com", "resource": "instancetypes"}, id="list-instancetypes"),
    pytest.param({"verb": "create", "resource": "pods", "namespace": "team-a"}, id="create-pods"),
    # Jobs' image-pull secrets (agents/extension/pull_secrets.py): written, never read (see DENIED).
    pytest.param({"verb": "create", "resource": "secrets", "namespace": "team-a"}, id="create-pull-secrets"),
    pytest.param(
        {"verb": "create", "resource": "serviceaccounts", "subresource": "token", "namespace": "team-a"},
        id="token-request",
    ),
    pytest.param(
        {
            "verb": "update",
            "group": "coordination.k8s.io",
            "resource": "leases",
            "namespace": "azureml",
            "name": m.HEARTBEAT_LEASE_NAME,
        },
        id="heartbeat",
    ),
]


@pytest.mark.parametrize("attributes", DENIED)
async def test_the_operator_may_not(installed: None, operator_client: AsyncClient, attributes: dict[str, str]) -> None:
    assert not await _allowed(operator_client, **attributes)


@pytest.mark.parametrize("attributes", ALLOWED)
async def test_the_operator_may(installed: None, operator_client: AsyncClient, attributes: dict[str, str]) -> None:
    assert await _allowed(operator_client, **attributes)


async def test_the_operator_is_refused_when_it_tries(installed: None, operator_client: AsyncClient) -> None:
    with pytest.raises(ApiError) as read_secrets:
        await operator_client.get(Secret, "anything", namespace="kube-system")
    with pytest.raises(ApiError) as delete_namespace:
        await operator_client.delete(Namespace, "default")

    assert read_secrets.value.status.code == 403
    assert delete_namespace.value.status.code == 403


# --- uninstall ----------------------------------------------------------------------------------------


async def test_uninstall_removes_everything_and_install_restores_it(installed: None, kube_client: AsyncClient) -> None:
    deleted = await uninstall(kube_client, CONFIG, delete_crds=True)
    again = await uninstall(kube_client, CONFIG, delete_crds=True)

    assert {(d.kind, d.name) for d in deleted} >= {(o["kind"], o["metadata"]["name"]) for o in m.render(CONFIG)}
    assert again == []
    for res, name, namespace in (
        (Namespace, "azureml", None),
        (CustomResourceDefinition, m.INSTANCE_TYPES_CRD_NAME, None),
        (CustomResourceDefinition, m.TETHER_JOBS_CRD_NAME, None),
        (ClusterRole, m.CLUSTER_ROLE_NAME, None),
        (ClusterRoleBinding, m.WORKLOADS_CLUSTER_ROLE_NAME, None),
    ):
        with pytest.raises(ApiError) as caught:
            await kube_client.get(res, name, namespace=namespace)
        assert caught.value.status.code == 404, (res, name)
    health = await read_health(kube_client)
    assert not health.installed
    assert health.reason is not None
    assert "not installed" in health.reason

    await install(kube_client, CONFIG)  # the module's other tests may still run after this one
