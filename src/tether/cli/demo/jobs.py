"""The demo's job steps: a job that completes with its compute's identity, and one that fails fast.

The first job runs on k8s-compute (namespace team-a of the managed cluster); inside its pod the
unmodified azure-identity gets the compute identity's token. The second runs on a compute whose
namespace does not exist and must fail with ``NamespaceNotFound`` instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import click
import jwt

from tether.cli.demo.attach import attach_to_aks
from tether.cli.demo.kubectl import first_pod, workload_token
from tether.cli.demo.narrator import Narrator
from tether.domain.jobs import cluster_job_name
from tether.server_process import ServerProcess

JOB_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
display_name: hello-tether
experiment_name: demo
command: python train.py --epochs 1
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
compute: azureml:{compute}
resources:
  instance_count: 1
environment_variables:
  EPOCHS: "1"
tags:
  tether.dev/simulate-duration: 2s
  tether.dev/simulate-log: "epoch 1/1 loss=0.042 accuracy=0.98"
"""


def run_job_with_identity(demo: Narrator, server: ServerProcess, aks_kubeconfig: Path) -> None:
    """A job on k8s-compute that completes; its pod gets the compute identity's token."""
    demo.say("A job on k8s-compute: it runs in team-a with the compute's identity and no secrets.")
    _create_job(demo, "k8s-compute", "hello-tether", timeout_s=120)
    job = demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "hello-tether")
    demo.tether("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "hello-tether", "-o", "table")
    demo.check("job completes", job["properties"]["status"] == "Completed")

    demo.say("Inside the job's pod, the unmodified azure-identity gets the compute identity's token.")
    compute = demo.json("ml", "compute", "show", "-g", "ml-rg", "-w", "ws1", "-n", "k8s-compute")
    pod = asyncio.run(first_pod(aks_kubeconfig, "team-a", _cluster_job_name(job)))
    token = asyncio.run(workload_token(aks_kubeconfig, "team-a", pod, server=server))
    claims = jwt.decode(token, options={"verify_signature": False})
    click.echo(f"  WorkloadIdentityCredential().get_token(...) -> oid {claims['oid']}")
    demo.check(
        "workload identity token",
        claims["oid"] == compute["identity"]["principalId"],
        "oid is the compute identity's principalId",
    )


def run_job_on_missing_namespace(demo: Narrator, sub: str) -> None:
    """B3: a compute on a namespace that does not exist; its job fails fast and says how to fix it."""
    demo.say("B3: a compute on a namespace that does not exist; its job fails fast with the fix.")
    attach_to_aks(demo, sub, workspace="ws1", name="no-ns", namespace="does-not-exist")
    started = time.perf_counter()
    _create_job(demo, "no-ns", "lost-job", timeout_s=60, expect_failure=True)
    failed = demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "lost-job")
    elapsed = time.perf_counter() - started
    error = failed["properties"].get("error") or {}
    click.echo(f"  ({error.get('code')}) {error.get('message')}")
    demo.check("missing namespace fails fast", error.get("code") == "NamespaceNotFound", f"in {elapsed:.1f} s")


def _create_job(demo: Narrator, compute: str, name: str, *, timeout_s: float, expect_failure: bool = False) -> None:
    """``ml job create --stream`` in ws1 of JOB_YAML on ``compute``; returns when the job has finished."""
    job_file = Path(demo.config_dir) / "job.yml"
    job_file.write_text(JOB_YAML.format(compute=compute))
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


def _cluster_job_name(job: dict[str, Any]) -> str:
    job_id = str(job["id"])
    return cluster_job_name(job_id.lower(), str(job["name"]))
