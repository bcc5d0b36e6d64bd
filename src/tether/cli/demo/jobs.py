"""The demo's job steps: a job that completes with its compute's identity, and one that fails fast.

The first job runs on k8s-compute (namespace team-a of the managed cluster) on its real node
(kubelet + containerd): inside the container the unmodified azure-identity gets the compute identity's
token and the job's own Python prints the token's ``oid`` (never the token), which the demo checks.
The second runs on a compute whose namespace does not exist and must fail with ``NamespaceNotFound`` instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from tether.cli.demo.attach import attach_to_aks
from tether.cli.demo.kubectl import create_instance_type
from tether.cli.demo.narrator import DemoStepFailed, Narrator
from tether.client.views import read_view
from tether.protocol.answers import ExtensionAnswer, JobAnswer

JOB_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
display_name: hello-tether
experiment_name: demo
command: |
{command}
environment:
  image: {image}
compute: azureml:{compute}
resources:
  instance_count: 1
  instance_type: {instance_type}
environment_variables:
  EPOCHS: "1"
"""
#: The identity job's command: its own Python prints the oid of the token it got (never the token).
IDENTITY_COMMAND = """\
echo "epoch 1/1 loss=0.042 accuracy=0.98"
python3 - <<'PY'
import base64, json, os
from azure.identity import WorkloadIdentityCredential
scope = os.environ["AZURE_AUTHORITY_HOST"].rstrip("/") + "/.default"
claims = WorkloadIdentityCredential().get_token(scope).token.split(".")[1]
print("token oid", json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["oid"])
PY
"""
#: The instance type that selects the local cluster's real node (pods on the host network).
REAL_INSTANCE_TYPE = "real-small"
REAL_INSTANCE_TYPE_SPEC = {
    "nodeSelector": {"tether.dev/pod-network": "host"},
    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
}


def _wait_instance_type_reported(demo: Narrator, name: str) -> None:
    """Jobs naming an instance type the cluster has not reported yet are refused (docs/sdk-jobs.md): wait
    for the extension's next health report (every few seconds) to list it."""
    extension = ("--name", "azureml", "--cluster-type", "managedClusters", "--cluster-name", "aks-cluster")
    for _ in range(60):
        shown = read_view(
            ExtensionAnswer, demo.json("k8s-extension", "show", *extension, "-g", "ml-rg"), what="azureml"
        )
        if name in shown.properties.instanceTypes:
            return
        time.sleep(0.5)
    raise DemoStepFailed(f"the ML extension did not report instance type {name} within 30 s")


def run_job_with_identity(demo: Narrator, aks_kubeconfig: Path) -> None:
    """A job on k8s-compute that really runs on the real node; its own Python prints its token's oid."""
    demo.say("The locally built images (no registry is contacted); jobs name the base image.")
    demo.tether("local-cluster", "images")
    demo.say(f"An instance type selecting the real node (kubectl apply): {REAL_INSTANCE_TYPE_SPEC}")
    asyncio.run(create_instance_type(aks_kubeconfig, REAL_INSTANCE_TYPE, REAL_INSTANCE_TYPE_SPEC))
    _wait_instance_type_reported(demo, REAL_INSTANCE_TYPE)
    demo.say("A job on k8s-compute: it runs in team-a on the real node with the compute's identity, no secrets.")
    create_job(demo, "k8s-compute", "hello-tether", timeout_s=180)
    job = read_view(
        JobAnswer, demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "hello-tether"), what="hello-tether"
    )
    demo.tether("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "hello-tether", "-o", "table")
    demo.check("job completes", job.properties.status == "Completed")

    demo.say("Its log: the container's own output. Inside it, the unmodified azure-identity got a token.")
    log = demo.tether("ml", "job", "stream", "-g", "ml-rg", "-w", "ws1", "-n", "hello-tether")
    compute = demo.json("ml", "compute", "show", "-g", "ml-rg", "-w", "ws1", "-n", "k8s-compute")
    oids = [line.rsplit(" ", 1)[-1] for line in log.splitlines() if "token oid " in line]
    demo.check(
        "workload identity token (in the container)",
        oids == [compute["identity"]["principalId"]],
        "oid is the compute identity's principalId",
    )


def run_job_on_missing_namespace(demo: Narrator, sub: str) -> None:
    """B3: a compute on a namespace that does not exist; its job fails fast and says how to fix it."""
    demo.say("B3: a compute on a namespace that does not exist; its job fails fast with the fix.")
    attach_to_aks(demo, sub, workspace="ws1", name="no-ns", namespace="does-not-exist")
    started = time.perf_counter()
    create_job(demo, "no-ns", "lost-job", timeout_s=60, expect_failure=True)
    failed = read_view(
        JobAnswer, demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "lost-job"), what="lost-job"
    )
    elapsed = time.perf_counter() - started
    error = failed.properties.error
    click.echo(f"  ({error.get('code')}) {error.get('message')}")
    demo.check("missing namespace fails fast", error.get("code") == "NamespaceNotFound", f"in {elapsed:.1f} s")


def create_job(
    demo: Narrator,
    compute: str,
    name: str,
    *,
    timeout_s: float,
    expect_failure: bool = False,
    command: str = IDENTITY_COMMAND,
    image: str | None = None,
) -> None:
    """``ml job create --stream`` in ws1 of JOB_YAML running ``command`` (shell) on ``compute``'s real node;
    returns when the job has finished."""
    job_file = Path(demo.config_dir) / "job.yml"
    image = image or base_image(demo)
    indented = "".join(f"  {line}\n" for line in command.splitlines())
    job_file.write_text(
        JOB_YAML.format(compute=compute, image=image, instance_type=REAL_INSTANCE_TYPE, command=indented.rstrip("\n"))
    )
    demo.tether(
        "ml",
        "job",
        "create",
        "-f",
        str(job_file),
        "-g",
        "ml-rg",
        "-w",
        "ws1",
        "-n",
        name,
        "--stream",
        "-o",
        "none",
        expect_failure=expect_failure,
        timeout_s=timeout_s,
    )


def base_image(demo: Narrator) -> str:
    references = demo.tether("local-cluster", "images", show=False).split()
    if not references:
        raise DemoStepFailed("no locally built images: run `make kube`")
    return references[0]
