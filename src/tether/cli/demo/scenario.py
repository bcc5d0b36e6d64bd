"""The seed scenario end to end, on one machine: a server on SQLite, two real local clusters, the CLI.

Steps: a managed cluster (direct) and a connected cluster (outbound agent), the ML extension on both,
the seed's two attach commands verbatim, multi-attach in one and in two workspaces, a job that
completes on the managed cluster and whose identity token the unmodified azure-identity obtains,
and a job on a missing namespace failing fast. It prints each command, then a short report, and
leaves nothing running (agents, operator, clusters and server are stopped in every case).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import jwt
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod

from tether.cli.demo.narrator import DemoStepFailed, Narrator
from tether.cli.local_agents import stop_all
from tether.domain.jobs import cluster_job_name
from tether.testing.server_process import ServerProcess
from tether.testing.workload import get_token_in_workload, pod_identity, projected_token

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


async def _create_namespace(kubeconfig: Path, name: str) -> None:
    client = AsyncClient(KubeConfig.from_file(kubeconfig).get(), trust_env=False)
    try:
        await client.create(Namespace(metadata=ObjectMeta(name=name)))
    finally:
        await client.close()


async def _first_pod(kubeconfig: Path, namespace: str, job: str) -> str:
    client = AsyncClient(KubeConfig.from_file(kubeconfig).get(), trust_env=False)
    try:
        pods = [p async for p in client.list(Pod, namespace=namespace, labels={"tether.dev/job": job})]
    finally:
        await client.close()
    if not pods or pods[0].metadata is None or not pods[0].metadata.name:
        raise DemoStepFailed(f"no pod found for job {namespace}/{job}")
    return pods[0].metadata.name


async def _workload_token(kubeconfig: Path, namespace: str, pod: str, *, server: ServerProcess) -> str:
    client = AsyncClient(KubeConfig.from_file(kubeconfig).get(), trust_env=False)
    try:
        identity = await pod_identity(client, namespace=namespace, pod_name=pod)
        token = await projected_token(client, identity)
    finally:
        await client.close()
    return await asyncio.to_thread(
        get_token_in_workload, identity, token, scope=f"{server.url}/.default", ca_file=server.ca_file
    )


def run(work: Path) -> list[tuple[str, str]]:
    server = ServerProcess.start(work / "server")
    demo = Narrator(server, str(work / "config"))
    clusters = {"aks": work / "kube-aks", "arc": work / "kube-arc"}
    try:
        _scenario(demo, server, clusters)
    finally:
        click.echo("\n# Cleaning up: agents, operators, clusters, server.")
        for name in stop_all(Path(demo.config_dir)):
            click.echo(f"  stopped local agent {name}")
        for name, state in clusters.items():
            if state.exists():
                demo.tether("local-cluster", "down", "--name", f"demo-{name}", "--state-dir", str(state), show=False)
        server.stop()
    return demo.report


def _scenario(demo: Narrator, server: ServerProcess, clusters: dict[str, Path]) -> None:
    demo.say(f"A Tether server runs at {server.url} on SQLite. Log in as its bootstrap admin.")
    demo.tether("login", "--bootstrap", str(server.data_dir), "-o", "none")
    sub = demo.json("account", "show")["id"]
    demo.say("Two real local Kubernetes clusters (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes).")
    for name, state in clusters.items():
        demo.tether("local-cluster", "up", "--name", f"demo-{name}", "--state-dir", str(state))
    kubeconfig = {name: state / "kubeconfig" for name, state in clusters.items()}
    demo.say("A resource group and two workspaces (each with a system-assigned identity).")
    demo.tether("group", "create", "-n", "ml-rg", "-l", "westeurope", "-o", "none")
    for ws in ("ws1", "ws2"):
        demo.tether("ml", "workspace", "create", "-n", ws, "-g", "ml-rg", "-o", "none")
    shown = demo.json("ml", "workspace", "show", "-n", "ws1", "-g", "ml-rg")
    demo.tether("ml", "workspace", "show", "-n", "ws1", "-g", "ml-rg", "-o", "table")
    demo.check(
        "workspace ws1",
        shown["properties"]["provisioningState"] == "Succeeded",
        f"identity {shown['identity']['type']} {shown['identity']['principalId']}",
    )

    demo.say("S2: a managed cluster (the control plane reaches its API server directly)...")
    aks = demo.json("aks", "create", "-g", "ml-rg", "-n", "aks-cluster", "--kubeconfig", str(kubeconfig["aks"]))
    demo.check(
        "managed cluster registered",
        aks["properties"]["provisioningState"] == "Succeeded",
        f"Kubernetes {aks['properties']['kubernetesVersion']}",
    )
    demo.say("...and a connected cluster (an agent dials out to the relay; nothing dials in).")
    arc = demo.json(
        "connectedk8s",
        "connect",
        "-g",
        "ml-rg",
        "-n",
        "arc-cluster",
        "--kubeconfig",
        str(kubeconfig["arc"]),
        "--agent-process",
    )
    demo.check("connected cluster Connected", arc["properties"]["connectivityStatus"] == "Connected")

    demo.say("S1: the ML extension on both (the operator runs as a local process: kwok nodes run no images).")
    for kind, name, key in (("managedClusters", "aks-cluster", "aks"), ("connectedClusters", "arc-cluster", "arc")):
        demo.tether(
            "k8s-extension",
            "create",
            "--name",
            "azureml",
            "--extension-type",
            "Microsoft.AzureML.Kubernetes",
            "--config",
            "enableTraining=True",
            "--cluster-type",
            kind,
            "--cluster-name",
            name,
            "--resource-group",
            "ml-rg",
            "--scope",
            "cluster",
            "--operator-process",
            "--kubeconfig",
            str(kubeconfig[key]),
            "-o",
            "none",
        )
    _wait_healthy(demo)

    demo.say("S6/S7: the namespace a compute uses must exist; create team-a in the managed cluster.")
    asyncio.run(_create_namespace(kubeconfig["aks"], "team-a"))
    click.echo("$ kubectl create namespace team-a   (done through the Kubernetes API)")

    demo.say("S13: the seed's first command, verbatim (az -> tether): managed cluster, system-assigned identity.")
    demo.tether(
        "ml",
        "compute",
        "attach",
        "--resource-group",
        "ml-rg",
        "--workspace-name",
        "ws1",
        "--type",
        "Kubernetes",
        "--name",
        "k8s-compute",
        "--resource-id",
        f"/subscriptions/{sub}/resourceGroups/ml-rg/providers/Microsoft.ContainerService/managedclusters/aks-cluster",
        "--identity-type",
        "SystemAssigned",
        "--namespace",
        "team-a",
        "--no-wait",
    )
    demo.say("S13: the seed's second command: connected cluster, user-assigned identity (id without its '/').")
    demo.tether("identity", "create", "-g", "ml-rg", "-n", "team-b-identity", "-o", "none")
    demo.tether(
        "ml",
        "compute",
        "attach",
        "--resource-group",
        "ml-rg",
        "--workspace-name",
        "ws1",
        "--type",
        "Kubernetes",
        "--name",
        "amlarc-compute",
        "--resource-id",
        f"/subscriptions/{sub}/resourceGroups/ml-rg/providers/Microsoft.Kubernetes/connectedClusters/arc-cluster",
        "--user-assigned-identities",
        f"subscriptions/{sub}/resourceGroups/ml-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
        "team-b-identity",
        "--no-wait",
    )
    for compute in ("k8s-compute", "amlarc-compute"):
        shown = _wait_compute(demo, "ws1", compute)
        demo.check(
            f"attach {compute}",
            shown["properties"]["provisioningState"] == "Succeeded",
            f"identity {shown['identity']['type']}",
        )
    principal = demo.json("ad", "sp", "list", "--display-name", "ws1/computes/k8s-compute")
    demo.check("S9 identity named ws1/computes/k8s-compute", len(principal) == 1)

    demo.say("S4/S5: the same cluster attached again in ws1 (another team) and in ws2 (shared).")
    aks_id = (
        f"/subscriptions/{sub}/resourceGroups/ml-rg/providers/Microsoft.ContainerService/managedClusters/aks-cluster"
    )
    demo.tether(
        "ml",
        "compute",
        "attach",
        "-g",
        "ml-rg",
        "-w",
        "ws1",
        "-t",
        "kubernetes",
        "-n",
        "team-b",
        "--resource-id",
        aks_id,
        "--namespace",
        "team-b",
        "-o",
        "none",
    )
    demo.tether(
        "ml",
        "compute",
        "attach",
        "-g",
        "ml-rg",
        "-w",
        "ws2",
        "-t",
        "Kubernetes",
        "-n",
        "shared-aks",
        "--resource-id",
        aks_id,
        "--namespace",
        "team-a",
        "-i",
        "SystemAssigned",
        "-o",
        "none",
    )
    demo.tether("ml", "compute", "list", "-g", "ml-rg", "-w", "ws1", "-o", "table")
    demo.check("multi-attach", True, "3 computes in ws1, 1 in ws2, 2 of them on aks-cluster's namespace team-a")

    demo.say("A job on k8s-compute: it runs in team-a with the compute's identity and no secrets.")
    job_file = Path(demo.config_dir) / "job.yml"
    job_file.write_text(JOB_YAML.format(compute="k8s-compute"))
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
        "hello-tether",
        "--stream",
        "-o",
        "none",
        timeout_s=120,
    )
    job = demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "hello-tether")
    demo.tether("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "hello-tether", "-o", "table")
    demo.check("job completes", job["properties"]["status"] == "Completed")

    demo.say("Inside the job's pod, the unmodified azure-identity gets the compute identity's token.")
    compute = demo.json("ml", "compute", "show", "-g", "ml-rg", "-w", "ws1", "-n", "k8s-compute")
    pod = asyncio.run(_first_pod(kubeconfig["aks"], "team-a", _cluster_job_name(job)))
    token = asyncio.run(_workload_token(kubeconfig["aks"], "team-a", pod, server=server))
    claims = jwt.decode(token, options={"verify_signature": False})
    click.echo(f"  WorkloadIdentityCredential().get_token(...) -> oid {claims['oid']}")
    demo.check(
        "workload identity token",
        claims["oid"] == compute["identity"]["principalId"],
        "oid is the compute identity's principalId",
    )

    demo.say("B3: a compute on a namespace that does not exist; its job fails fast with the fix.")
    demo.tether(
        "ml",
        "compute",
        "attach",
        "-g",
        "ml-rg",
        "-w",
        "ws1",
        "-t",
        "Kubernetes",
        "-n",
        "no-ns",
        "--resource-id",
        aks_id,
        "--namespace",
        "does-not-exist",
        "-o",
        "none",
    )
    job_file.write_text(JOB_YAML.format(compute="no-ns"))
    started = time.perf_counter()
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
        "lost-job",
        "--stream",
        "-o",
        "none",
        expect_failure=True,
        timeout_s=60,
    )
    failed = demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "lost-job")
    elapsed = time.perf_counter() - started
    error = failed["properties"].get("error") or {}
    click.echo(f"  ({error.get('code')}) {error.get('message')}")
    demo.check("missing namespace fails fast", error.get("code") == "NamespaceNotFound", f"in {elapsed:.1f} s")


def _cluster_job_name(job: dict[str, Any]) -> str:
    job_id = str(job["id"])
    return cluster_job_name(job_id.lower(), str(job["name"]))


def _wait_compute(demo: Narrator, workspace: str, name: str) -> dict[str, Any]:
    for _ in range(60):
        shown: dict[str, Any] = demo.json("ml", "compute", "show", "-g", "ml-rg", "-w", workspace, "-n", name)
        if shown["properties"]["provisioningState"] in ("Succeeded", "Failed"):
            break
        time.sleep(0.5)
    demo.tether(
        "ml",
        "compute",
        "show",
        "-g",
        "ml-rg",
        "-w",
        workspace,
        "-n",
        name,
        "--query",
        "{state: properties.provisioningState, namespace: properties.properties.namespace, "
        "identity: identity.type, principalId: identity.principalId || "
        "values(identity.userAssignedIdentities)[0].principalId}",
    )
    return shown


def _wait_healthy(demo: Narrator) -> None:
    for kind, name in (("managedClusters", "aks-cluster"), ("connectedClusters", "arc-cluster")):
        for _ in range(40):
            health = demo.json(
                "k8s-extension",
                "show",
                "--name",
                "azureml",
                "--cluster-type",
                kind,
                "--cluster-name",
                name,
                "-g",
                "ml-rg",
            )["properties"].get("health", {})
            if health.get("status") == "Healthy":
                break
            time.sleep(0.5)
        demo.check(f"ML extension on {name}", health.get("status") == "Healthy", health.get("reason") or "healthy")


def run_demo() -> None:
    # A stop request (Ctrl-C, SIGTERM from a timeout) must still run the cleanup: nothing may be left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    click.echo("Tether demo: the seed scenario on one machine (server on SQLite, two local Kubernetes clusters).")
    with tempfile.TemporaryDirectory(prefix="tether-demo-") as tmp:
        try:
            report = run(Path(tmp))
        except DemoStepFailed as e:
            click.echo(f"\nDEMO FAILED: {e}", err=True)
            sys.exit(1)
    click.echo("\nReport")
    width = max(len(what) for what, _ in report)
    for what, result in report:
        click.echo(f"  {what:<{width}}  {result}")
    click.echo("\nDemo complete; nothing is left running.")
