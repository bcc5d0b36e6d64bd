"""Jobs whose image lives in a Tether registry, pulled on the real node with the compute identity.

The module's world (``tests/cluster/test_real_node.py``: a server process, the local cluster as a
managed cluster with the operator, a compute with a system-assigned identity) plus a registry holding
the local cluster's base image (pushed with ``tether acr import``) that the real node trusts
(``tether local-cluster trust-registry``). The compute identity has no AcrPull at first: the job fails
at dispatch naming the fix; after the grant the next job's pod pulls the image with a pull secret
the operator wrote from the identity's own token.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from lightkube.resources.core_v1 import Secret

from tests.cluster.test_real_node import RG, WS, World, create_job, job_document, job_pod, wait_job, world
from tether.localcluster.realnode import trust_registry
from tether.testing.registry import ensure_registry_tools

pytestmark = pytest.mark.cluster
__all__ = ["world"]  # the module-scoped fixture, shared in shape with test_real_node.py

REGISTRY = "realpull"
PULL = "Microsoft.ContainerRegistry/registries/pull/read"


def test_a_registry_image_fails_fast_without_acrpull_and_runs_after_the_grant(world: World) -> None:
    ensure_registry_tools()
    world.cli.line(f"acr create -n {REGISTRY} -g {RG} -o none")
    registry = world.cli.json(f"acr show -n {REGISTRY} -o json")
    login = registry["properties"]["loginServer"]
    world.cli.line(f"acr import -n {REGISTRY} --source {world.image} --image ml/base:v1")
    trust_registry(world.cluster.paths, login, ca_pem=Path(world.server.ca_file).read_text())
    image = f"{login}/ml/base:v1"
    compute = world.client.get(world.job_id("x").rsplit("/jobs/", 1)[0] + "/computes/real")
    identity = compute["identity"]["principalId"]

    created = create_job(world, "nopull", job_document(world, "echo never", image=image))
    assert created.returncode == 0, created.stderr
    failed = wait_job(world, "nopull", "Failed", "Completed", timeout=60)
    error = failed["properties"]["error"]
    assert failed["properties"]["status"] == "Failed"
    assert error["code"] == "AuthorizationFailed"
    assert identity in error["message"]
    assert registry["id"] in error["message"]
    assert "AcrPull" in error["message"]
    assert (
        f"tether role assignment create --assignee {identity} --role AcrPull --scope {registry['id']}"
        in (error["message"])
    )
    check = world.cli.json(
        f"role assignment check --assignee-object-id {identity} --action {PULL} --scope {registry['id']} -o json"
    )
    assert check["allowed"] is False

    world.cli.line(f"role assignment create --assignee-object-id {identity} --role AcrPull --scope {registry['id']}")
    assert world.cli.json(
        f"role assignment check --assignee-object-id {identity} --action {PULL} --scope {registry['id']} -o json"
    )["allowed"]
    command = "python3 -c 'print(\"pulled from the registry\")'"
    ran = create_job(world, "pulled", job_document(world, command, image=image))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    job = wait_job(world, "pulled", timeout=300)  # the first pull of the ~100 MB base image
    assert job["properties"]["status"] == "Completed", job
    pod = job_pod(world, "pulled")
    assert pod.spec is not None
    assert pod.metadata is not None
    assert pod.spec.containers[0].image == image
    secret_name = f"{str(pod.metadata.name).rsplit('-', 1)[0]}-pull"
    assert [s.name for s in pod.spec.imagePullSecrets or []] == [secret_name]
    secret = world.kube.get(Secret, secret_name, namespace=world.namespace)
    config = json.loads(base64.b64decode((secret.data or {})[".dockerconfigjson"]))
    assert list(config["auths"]) == [login]
    streamed = world.cli.run("ml", "job", "stream", "-g", RG, "-w", WS, "-n", "pulled")
    assert "pulled from the registry" in streamed.stdout
