"""A data scientist's loop with the unmodified azure-ai-ml, on the local cluster's real node.

The workspace is made with ``ml.workspaces.begin_create`` (the SDK's ARM template deployment), the
local cluster attached to it (``tether ml compute attach``), then
``ml.jobs.create_or_update(command(code="./src", environment=Environment(image=...), outputs=...))``
uploads the code through Tether's blob endpoint, writes an anonymous environment and code version, and
submits the job; the pod downloads the code, runs ``python train.py`` for real and uploads what it wrote
to ``${{outputs.model}}``. ``ml.jobs.stream`` prints the script's own lines (run history, signed log
URL), ``ml.jobs.download`` fetches the file it wrote from the default datastore (at
``https://<account>.blob.core.tether.localhost:<blob port>``, a name this test adds to /etc/hosts, so it
needs root), ``ml.jobs.archive`` round-trips the job.

The SDK runs in a child process, in its own virtual environment: the unmodified azure-ai-ml from PyPI
that ``tools/azure-ai-ml.sh`` installs once under ~/.cache/tether/azure-ai-ml/<version> (about a minute;
``TETHER_SDK_PYTHON`` names another interpreter). Needs the real node: run under
``flock /tmp/tether-real-node.lock``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.cluster.conftest import Cli, log_in, managed_cluster_with_extension, stop_local_agents
from tether.client import TetherClient
from tether.client.profile import load_profile
from tether.kube.resources import InstanceType
from tether.localcluster import LocalCluster, kubeversions
from tether.localcluster.nodeconfig import POD_NETWORK_HOST, POD_NETWORK_LABEL
from tether.server_process import ServerProcess
from tether.settings import StorageSettings
from tether.testing.hosts_file import loopback_hosts

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

RG = "sdkj-rg"
WS = "sdkj-ws"
CLUSTER = "sdkj-aks"
COMPUTE = "k8s"
INSTANCE_TYPE = "sdkj-small"

TRAIN_PY = textwrap.dedent(
    """
    import argparse, os, socket
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    args = parser.parse_args()
    print("training in", os.getcwd(), "with", sorted(os.listdir(".")))
    print("epoch 1 loss=0.042")
    with open(os.path.join(args.out, "model.txt"), "w") as f:
        f.write("weights from " + socket.gethostname() + "\\n")
    print("model written to", args.out)
    """
)

_SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from azure.identity import ClientSecretCredential
    from azure.ai.ml import MLClient, Output, command
    from azure.ai.ml.entities import Environment

    b = json.load(open(sys.argv[1]))
    args = json.loads(sys.argv[2])
    credential = ClientSecretCredential(
        b["tenant_id"], b["client_id"], b["client_secret"], authority=b["server"], disable_instance_discovery=True
    )
    ml = MLClient(credential, b["subscription_id"], args["rg"], workspace_name=args["ws"], cloud="Tether")
    job = command(
        code=args["code"],
        command="python train.py --out ${{outputs.model}}",
        environment=Environment(image=args["image"]),
        compute=args["compute"],
        instance_type=args["instance_type"],
        outputs={"model": Output(type="uri_folder")},
    )
    created = ml.jobs.create_or_update(job)
    print("STREAM-BEGIN", flush=True)
    ml.jobs.stream(created.name)
    print("STREAM-END", flush=True)
    ml.jobs.download(created.name, output_name="model", download_path=args["download"])
    ml.jobs.archive(created.name)
    archived = ml.jobs.get(created.name)
    from azure.ai.ml.constants import ListViewType
    result = {
        "name": created.name, "status": archived.status, "studio_url": created.studio_url,
        "environment": str(created.environment), "code": str(created.code),
        "active": [j.name for j in ml.jobs.list()],
        "archived": [j.name for j in ml.jobs.list(list_view_type=ListViewType.ARCHIVED_ONLY)],
    }
    print("RESULT " + json.dumps(result))
    """
)


# The workspace the job runs in is made as a data scientist makes one: the SDK deploys its ARM template.
_CREATE_WORKSPACE = textwrap.dedent(
    """
    import json, sys
    from azure.identity import ClientSecretCredential
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Workspace

    b = json.load(open(sys.argv[1]))
    credential = ClientSecretCredential(
        b["tenant_id"], b["client_id"], b["client_secret"], authority=b["server"], disable_instance_discovery=True
    )
    ml = MLClient(credential, b["subscription_id"], sys.argv[2], cloud="Tether")
    w = ml.workspaces.begin_create(Workspace(name=sys.argv[3], location="westeurope")).result()
    print(json.dumps({"name": w.name, "id": w.id}))
    """
)

_REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sdk_python() -> str:
    """The SDK's own interpreter (installing it the first time)."""
    if explicit := os.environ.get("TETHER_SDK_PYTHON"):
        return explicit
    script = _REPO / "tools" / "azure-ai-ml.sh"
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"tools/azure-ai-ml.sh failed ({result.returncode}):\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@dataclass
class World:
    server: ServerProcess
    cli: Cli
    tmp: Path
    image: str
    python: str
    client: TetherClient

    def job_id(self, name: str) -> str:
        sub = self.client.profile.subscription_id
        workspace = f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces"
        return f"{workspace}/{WS}/jobs/{name}"

    def sdk(self, script: str, args: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, "-c", script, str(self.server.data_dir / "bootstrap.json"), json.dumps(args)],
            env=self.cli.env | {"TETHER_CONFIG_DIR": str(self.cli.config_dir)},
            capture_output=True,
            text=True,
            timeout=600,
            cwd=self.tmp,
        )


@pytest.fixture(scope="module")
def world(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[World]:
    assert local_cluster.real_nodes == 1, "this test needs the real node (TETHER_TEST_REAL_NODES unset)"
    images = kubeversions.image_references(kubeversions.default_images_dir(Path.home() / ".cache"))
    root = tmp_path_factory.mktemp("sdk-jobs")
    namespace = f"team-sdkj-{secrets.token_hex(3)}"
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    spec = {
        "nodeSelector": {POD_NETWORK_LABEL: POD_NETWORK_HOST},
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
    }
    server = ServerProcess.start(root / "server")
    config_dir = root / "config"
    try:
        cli = log_in(server, config_dir)
        kubeconfig = local_cluster.kubeconfig_path
        cli.line(f"group create -n {RG} -l westeurope -o none")
        created = subprocess.run(
            [sdk_python, "-c", _CREATE_WORKSPACE, str(server.data_dir / "bootstrap.json"), RG, WS],
            env=cli.env | {"TETHER_CONFIG_DIR": str(config_dir)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        made = json.loads(created.stdout.splitlines()[-1])
        assert made["name"] == WS, created.stdout
        assert made["id"].endswith(f"/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}")
        managed_cluster_with_extension(cli, kubeconfig=kubeconfig, resource_group=RG, cluster=CLUSTER)
        # The InstanceType CRD comes with the extension; the instance type exists before the attach reads them.
        with contextlib.suppress(ApiError, httpx2.HTTPStatusError):
            kube.delete(InstanceType, INSTANCE_TYPE)
        kube.create(InstanceType(metadata=ObjectMeta(name=INSTANCE_TYPE), spec=spec))
        sub = load_profile(config_dir).subscription_id
        cluster_id = (
            f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"
        )
        cli.line(
            f"ml compute attach -g {RG} -w {WS} --type Kubernetes -n {COMPUTE} --resource-id {cluster_id} "
            f"--namespace {namespace} --identity-type SystemAssigned -o none"
        )
        client = cli.client()
        try:
            # azure-ai-ml reaches the default datastore at https://<account>.blob.core.tether.localhost:<blob port>
            # (the cloud's storage suffix): the hosts line stands in for the wildcard DNS record of an install.
            workspace = f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices"
            datastore = client.get(f"{workspace}/workspaces/{WS}/datastores/workspaceblobstore")["properties"]
            with loopback_hosts([datastore["accountName"] + StorageSettings().virtual_host_suffix()]):
                yield World(server, cli, root, images[0], sdk_python, client)
        finally:
            client.close()
    finally:
        stop_local_agents(config_dir)
        server.stop()
        with contextlib.suppress(ApiError, httpx2.HTTPStatusError):
            kube.delete(InstanceType, INSTANCE_TYPE)
        kube.delete(Namespace, namespace)
        kube.close()


def test_command_job_with_code_runs_streams_and_archives(world: World) -> None:
    src = world.tmp / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN_PY)
    args = {
        "rg": RG,
        "ws": WS,
        "code": str(src),
        "image": world.image,
        "compute": COMPUTE,
        "instance_type": INSTANCE_TYPE,
        "download": str(world.tmp / "downloaded"),
    }

    ran = world.sdk(_SDK_SCRIPT, args)

    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-6000:]
    streamed = ran.stdout[ran.stdout.index("STREAM-BEGIN") : ran.stdout.index("STREAM-END")]
    assert "epoch 1 loss=0.042" in streamed, streamed
    assert "training in /tether/code with ['train.py']" in streamed, "the code was downloaded into the working dir"
    result = json.loads(ran.stdout.split("RESULT ", 1)[1].splitlines()[0])
    assert result["status"] == "Completed"
    assert result["studio_url"].startswith(world.server.url + "/studio/")
    [written] = (world.tmp / "downloaded").rglob("model.txt")
    assert written.relative_to(world.tmp / "downloaded").parts[:2] == ("named-outputs", "model")
    assert written.read_text().startswith("weights from "), written.read_text()
    assert result["name"] in result["archived"], result
    assert result["name"] not in result["active"], result
    job = world.client.get(world.job_id(result["name"]))
    assert job["properties"]["isArchived"] is True
    assert job["properties"]["outputs"]["model"]["uri"].endswith(f"/paths/azureml/{result['name']}/model/")


_REFUSED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from azure.identity import ClientSecretCredential
    from azure.ai.ml import MLClient, command
    from azure.ai.ml.entities import Environment

    b = json.load(open(sys.argv[1]))
    args = json.loads(sys.argv[2])
    credential = ClientSecretCredential(
        b["tenant_id"], b["client_id"], b["client_secret"], authority=b["server"], disable_instance_discovery=True
    )
    ml = MLClient(credential, b["subscription_id"], args["rg"], workspace_name=args["ws"], cloud="Tether")
    job = command(command="echo hi", environment=Environment(image=args["image"]), compute=args["compute"],
                  instance_type="no-such-type")
    try:
        ml.jobs.create_or_update(job)
        print("RESULT " + json.dumps({"created": True}))
    except Exception as e:
        error = getattr(e, "error", None)
        status = getattr(getattr(e, "response", None), "status_code", None)
        print("RESULT " + json.dumps({"code": getattr(error, "code", None), "status": status, "message": str(e)}))
    """
)


def test_an_instance_type_the_cluster_lacks_is_refused_when_the_job_is_created(world: World) -> None:
    args = {"rg": RG, "ws": WS, "image": world.image, "compute": COMPUTE}

    ran = world.sdk(_REFUSED_SCRIPT, args)

    assert ran.returncode == 0, ran.stderr[-4000:]
    result = json.loads(ran.stdout.split("RESULT ", 1)[1].splitlines()[0])
    assert result.get("status") == 400, result
    assert result["code"] == "UserError"
    assert "no-such-type" in result["message"]
    assert INSTANCE_TYPE in result["message"], "the answer names the instance types the cluster has"


def test_limits_timeout_stops_the_job_on_the_node(world: World) -> None:
    client = world.client
    job_id = world.job_id("sdkj-timeout")
    compute_id = world.job_id("x").rsplit("/jobs/", 1)[0] + f"/computes/{COMPUTE}"
    body = {
        "properties": {
            "jobType": "Command",
            "command": "echo started; sleep 120; echo never",
            "environment": {"image": world.image},
            "computeId": compute_id,
            "resources": {"instanceCount": 1, "instanceType": INSTANCE_TYPE},
            "limits": {"jobLimitsType": "Command", "timeout": "PT3S"},
        }
    }
    client.put(job_id, body)
    deadline = time.monotonic() + 120
    while (job := client.get(job_id))["properties"]["status"] not in ("Completed", "Failed", "Canceled"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)

    assert job["properties"]["status"] == "Failed", job
    assert "DeadlineExceeded" in job["properties"]["error"]["message"], job["properties"]["error"]
