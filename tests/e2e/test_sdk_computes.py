"""Kubernetes computes through the unmodified azure-ai-ml SDK against a running Tether server.

Attach (waiting and not waiting), get, list, identity update (``begin_update``), detach
(``begin_delete(action="Detach")``) and failed attaches whose error code reaches the SDK caller. The
cluster is the session's real local cluster, registered once for this module with the ML extension
(its operator a local process, stopped at the end; ``--force`` leaves the cluster's install in place
for other modules).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError

from tests.e2e.conftest import Cli
from tether.kube.resources import InstanceType
from tether.localcluster import LocalCluster
from tether.server_process import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

RG = "sdkc-rg"
WS = "sdkc-ws"
LOCKED_WS = "sdkc-locked-ws"  # its identity is user-assigned and holds no roles
CLUSTER = "sdkc-aks"

# The SDK runs in a child process (it reads its cloud from the environment at import time). It runs
# the steps given as JSON and prints one JSON result per step: the compute as the SDK parsed it, or
# the error the SDK raised.
_SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from azure.identity import ClientSecretCredential
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import IdentityConfiguration, KubernetesCompute, ManagedIdentityConfiguration

    b = json.load(open(sys.argv[1]))
    credential = ClientSecretCredential(
        b["tenant_id"], b["client_id"], b["client_secret"], authority=b["server"], disable_instance_discovery=True
    )
    ml = MLClient(credential, b["subscription_id"], sys.argv[2], workspace_name=sys.argv[3], cloud="Tether")

    def identity(step):
        if step.get("identity") == "system_assigned":
            return IdentityConfiguration(type="system_assigned")
        if step.get("identity") == "user_assigned":
            return IdentityConfiguration(
                type="user_assigned",
                user_assigned_identities=[ManagedIdentityConfiguration(resource_id=step["identity_id"])],
            )
        return None

    def instance_types(c):
        inner = getattr(c, "properties", None) or {}
        return inner.get("instanceTypes") or inner.get("instance_types")

    def summary(c):
        ident = c.identity
        return {
            "name": c.name, "class": type(c).__name__, "type": c.type, "id": c.id,
            "provisioning_state": c.provisioning_state, "provisioning_errors": c.provisioning_errors,
            "resource_id": c.resource_id, "namespace": getattr(c, "namespace", None), "location": c.location,
            "identity_type": ident.type if ident else None,
            "principal_id": ident.principal_id if ident else None,
            "user_assigned": [u.resource_id for u in ident.user_assigned_identities or []] if ident else [],
            "instance_types": instance_types(c),
            "seconds": None,
        }

    def run(step):
        op = step["op"]
        if op == "attach":
            c = KubernetesCompute(
                name=step["name"], resource_id=step["resource_id"], namespace=step.get("namespace", "default"),
                identity=identity(step), properties=step.get("properties"),
            )
            started = time.monotonic()
            poller = ml.compute.begin_create_or_update(c)
            if not step["wait"]:
                return {"returned": True, "poller_done": poller.done()}
            return {**summary(poller.result()), "seconds": time.monotonic() - started}
        if op == "get":
            return summary(ml.compute.get(step["name"]))
        if op == "list":
            return [summary(c) for c in ml.compute.list()]
        if op == "update":
            c = ml.compute.get(step["name"])
            c.identity = identity(step)
            return summary(ml.compute.begin_update(c).result())
        if op == "retype":
            c = ml.compute.get(step["name"])
            key = "instanceTypes" if "instanceTypes" in c.properties else "instance_types"
            c.properties[key] = step["instance_types"]
            return summary(ml.compute.begin_update(c).result())
        if op == "detach":
            return {"result": ml.compute.begin_delete(step["name"], action="Detach").result()}
        raise ValueError(op)

    results = []
    for step in json.loads(sys.argv[4]):
        try:
            results.append({"ok": run(step)})
        except Exception as e:
            error = getattr(e, "error", None)
            results.append({"error": type(e).__name__, "code": getattr(error, "code", None), "message": str(e)})
    print(json.dumps(results))
    """
)


@dataclass(frozen=True)
class Setup:
    cli: Cli
    cluster_id: str
    identity_id: str

    def sdk(self, *steps: dict[str, Any], workspace: str = WS) -> list[dict[str, Any]]:
        bootstrap = str(self.cli.server.data_dir / "bootstrap.json")
        result = subprocess.run(
            [sys.executable, "-c", _SDK_SCRIPT, bootstrap, RG, workspace, json.dumps(list(steps))],
            env=self.cli.server.cli_env(self.cli.config_dir),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        results: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
        return results


@pytest.fixture(scope="module")
def setup(
    server_process: ServerProcess, local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    cli = Cli(server_process, tmp_path_factory.mktemp("sdk-computes") / "config")
    cli.run("login", "--bootstrap", str(server_process.data_dir))
    kubeconfig = str(local_cluster.kubeconfig_path)
    cli.run("group", "create", "-n", RG, "-l", "westeurope")
    identity = json.loads(cli.run("identity", "create", "-n", "sdkc-uai", "-g", RG).stdout)
    cli.run("ml", "workspace", "create", "-n", WS, "-g", RG)
    cli.run("ml", "workspace", "create", "-n", LOCKED_WS, "-g", RG, "--primary-user-assigned-identity", identity["id"])
    cluster = json.loads(cli.run("aks", "create", "-g", RG, "-n", CLUSTER, "--kubeconfig", kubeconfig).stdout)
    extension = ("--name", "azureml", "--cluster-type", "managedClusters", "--cluster-name", CLUSTER, "-g", RG)
    cli.run(
        "k8s-extension", "create", *extension, "--extension-type", "Microsoft.AzureML.Kubernetes",
        "--config", "enableTraining=True", "--scope", "cluster", "--operator-process", "--kubeconfig", kubeconfig,
    )  # fmt: skip
    try:
        yield Setup(cli, cluster["id"], identity["id"])
    finally:
        cli.run("k8s-extension", "delete", *extension, "--yes", "--force")


def _ok(result: dict[str, Any]) -> Any:
    assert "error" not in result, result
    return result["ok"]


def _attach(name: str, cluster_id: str, identity: str, *, wait: bool = True, **extra: str) -> dict[str, Any]:
    return {"op": "attach", "name": name, "resource_id": cluster_id, "identity": identity, "wait": wait, **extra}


def test_attach_waiting_then_get_list_update_identity_and_detach(setup: Setup) -> None:
    attached, got, listed, updated, detached, gone = setup.sdk(
        _attach("sdk-k8s", setup.cluster_id, "user_assigned", identity_id=setup.identity_id, namespace="default"),
        {"op": "get", "name": "sdk-k8s"},
        {"op": "list"},
        {"op": "update", "name": "sdk-k8s", "identity": "system_assigned"},
        {"op": "detach", "name": "sdk-k8s"},
        {"op": "get", "name": "sdk-k8s"},
    )

    attached = _ok(attached)
    assert attached["class"] == "KubernetesCompute"
    assert attached["provisioning_state"] == "Succeeded"
    assert attached["resource_id"].lower() == setup.cluster_id.lower()
    assert attached["namespace"] == "default"
    assert attached["location"] == "westeurope"
    assert attached["identity_type"] == "user_assigned"
    assert [u.lower() for u in attached["user_assigned"]] == [setup.identity_id.lower()]

    assert _ok(got) == {**attached, "seconds": None}
    assert "sdk-k8s" in [c["name"] for c in _ok(listed)]

    updated = _ok(updated)
    assert updated["provisioning_state"] == "Succeeded"
    assert updated["identity_type"] == "system_assigned"
    assert updated["principal_id"]
    assert updated["user_assigned"] == []

    assert _ok(detached) == {"result": None}
    assert gone["error"] == "ResourceNotFoundError"
    assert "ComputeNotFound" in gone["message"]


def test_update_identity_from_system_to_user_assigned(setup: Setup) -> None:
    attached, updated, got, detached = setup.sdk(
        _attach("sdk-upd", setup.cluster_id, "system_assigned"),
        {"op": "update", "name": "sdk-upd", "identity": "user_assigned", "identity_id": setup.identity_id},
        {"op": "get", "name": "sdk-upd"},
        {"op": "detach", "name": "sdk-upd"},
    )

    assert _ok(attached)["identity_type"] == "system_assigned"
    assert _ok(detached) == {"result": None}
    for answer in (_ok(updated), _ok(got)):
        assert answer["provisioning_state"] == "Succeeded"
        assert answer["identity_type"] == "user_assigned"
        assert [u.lower() for u in answer["user_assigned"]] == [setup.identity_id.lower()]


def test_attach_without_waiting_is_finished_by_the_server(setup: Setup) -> None:
    (started,) = setup.sdk(_attach("sdk-nowait", setup.cluster_id, "system_assigned", wait=False))

    assert _ok(started) == {"returned": True, "poller_done": False}
    # The child process has exited without polling; the server finishes the attach on its own.
    deadline = time.monotonic() + 60
    while True:
        (got,) = setup.sdk({"op": "get", "name": "sdk-nowait"})
        state = _ok(got)["provisioning_state"]
        if state != "Creating" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert state == "Succeeded"
    assert _ok(got)["identity_type"] == "system_assigned"
    assert _ok(got)["principal_id"]

    (detached,) = setup.sdk({"op": "detach", "name": "sdk-nowait"})
    assert _ok(detached) == {"result": None}


@pytest.mark.parametrize(
    ("workspace", "cluster", "code"),
    [
        pytest.param(WS, "not-registered", "ClusterNotFound", id="unregistered-cluster"),
        pytest.param(LOCKED_WS, CLUSTER, "AuthorizationFailed", id="workspace-identity-without-roles"),
    ],
)
def test_failed_attach_surfaces_its_error_code(setup: Setup, workspace: str, cluster: str, code: str) -> None:
    cluster_id = setup.cluster_id.rsplit("/", 1)[0] + "/" + cluster
    failed, got, detached = setup.sdk(
        _attach("sdk-fail", cluster_id, "system_assigned"),
        {"op": "get", "name": "sdk-fail"},
        {"op": "detach", "name": "sdk-fail"},
        workspace=workspace,
    )

    assert failed["error"] == "HttpResponseError", failed
    assert failed["code"] == code
    assert code in failed["message"]
    assert _ok(got)["provisioning_state"] == "Failed"
    assert _ok(got)["provisioning_errors"] == code
    assert _ok(detached) == {"result": None}


SMALL = {"nodeSelector": None, "resources": {"requests": {"cpu": "250m", "memory": "1Gi"},
                                             "limits": {"cpu": "1", "memory": "1Gi"}}}  # fmt: skip


def test_instance_types_in_the_attach_body_are_created_answered_and_kept_on_update(
    setup: Setup, local_cluster: LocalCluster
) -> None:
    name = f"sdk-small-{uuid.uuid4().hex[:6]}"
    attached, updated, retyped, conflicting, detached, detached_conflict = setup.sdk(
        _attach("sdk-it", setup.cluster_id, "system_assigned", properties={"instanceTypes": {name: SMALL}}),
        {"op": "update", "name": "sdk-it", "identity": "system_assigned"},
        {"op": "retype", "name": "sdk-it", "instance_types": {f"{name}-2": SMALL}},
        _attach(
            "sdk-it2",
            setup.cluster_id,
            "system_assigned",
            properties={"instanceTypes": {name: {**SMALL, "nodeSelector": {"pool": "gpu"}}}},
        ),
        {"op": "detach", "name": "sdk-it"},
        {"op": "detach", "name": "sdk-it2"},
    )
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    try:
        created = kube.get(InstanceType, name)
        kube.delete(InstanceType, name)
    finally:
        kube.close()

    attached = _ok(attached)
    assert attached["provisioning_state"] == "Succeeded"
    assert sorted(attached["instance_types"]) == sorted(["defaultinstancetype", name])
    assert attached["instance_types"][name] == SMALL
    assert created["spec"]["resources"] == SMALL["resources"]  # the cluster's InstanceType, used by its jobs
    assert _ok(updated)["instance_types"] == attached["instance_types"]  # begin_update re-sends them unchanged
    assert retyped["code"] == "ComputeUpdateNotAllowed", retyped  # set at attach; detach and attach to change
    assert conflicting["error"] == "HttpResponseError", conflicting  # same name, another definition: refused
    assert conflicting["code"] == "InstanceTypeConflict"
    assert _ok(detached) == {"result": None}
    assert _ok(detached_conflict) == {"result": None}


def test_the_example_script_creates_its_workspace_and_attaches(setup: Setup, local_cluster: LocalCluster) -> None:
    """examples/train_with_azure_ai_ml.py up to its job cells (which need the job loop)."""
    script = Path(__file__).parents[2] / "examples" / "train_with_azure_ai_ml.py"
    env = {
        **setup.cli.server.cli_env(setup.cli.config_dir),
        "TETHER_BOOTSTRAP": str(setup.cli.server.data_dir / "bootstrap.json"),
        "TETHER_CLUSTER_ID": setup.cluster_id,
        "TETHER_GROUP": RG,
        "TETHER_WORKSPACE": "sdkc-example",
        "TETHER_EXAMPLE_STOP": "attach",
    }
    try:
        result = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300, check=False
        )
    finally:
        kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
        try:
            kube.delete(InstanceType, "example-small")
        except ApiError:
            pass  # the script failed before creating it
        finally:
            kube.close()

    assert result.returncode == 0, result.stderr
    assert "workspace: sdkc-example westeurope /subscriptions/" in result.stdout
    assert "compute: k8s attached, instance types ['defaultinstancetype', 'example-small']" in result.stdout
    assert "VM sizes to provision (none: Tether attaches clusters): []" in result.stdout
    (detached,) = setup.sdk({"op": "detach", "name": "k8s"}, workspace="sdkc-example")
    assert _ok(detached) == {"result": None}
