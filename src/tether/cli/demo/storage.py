"""The demo's storage step: a job reads its input from, and writes its result to, the workspace's storage.

ws1's default storage account (made with the workspace) gets a container with an input blob; the
compute identity of k8s-compute is granted Storage Blob Data Contributor on the account; a job runs on
k8s-compute, and its workload reads ``input.txt`` and writes ``result.txt`` with the compute identity
(``WorkloadIdentityCredential``, what ``DefaultAzureCredential`` picks in a pod; no key).
The workload is *played*: kwok pods execute no container, so
the job's code runs on this machine with the pod's identity environment and projected token
(``tether.testing.blob_workload``), as it would inside the pod.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from azure.storage.blob import BlobServiceClient

from tether.cli.demo.jobs import create_job
from tether.cli.demo.kubectl import first_pod, played_blob_workload
from tether.cli.demo.narrator import Narrator
from tether.domain.jobs import cluster_job_name
from tether.testing.server_process import ServerProcess


def run_job_with_storage(demo: Narrator, server: ServerProcess, aks_kubeconfig: Path) -> None:
    demo.say("Storage: ws1's default storage account; a job reads its input and writes its result there.")
    workspace = demo.json("ml", "workspace", "show", "-g", "ml-rg", "-n", "ws1")
    account_name = str(workspace["properties"]["storageAccount"]).rsplit("/", 1)[-1]
    account = demo.json("storage", "account", "show", "-g", "ml-rg", "-n", account_name)
    demo.tether(
        "storage", "container", "create", "-n", "demo-data", "--account-name", account_name, "-g", "ml-rg", "-o", "none"
    )
    key = demo.json("storage", "account", "keys", "list", "-n", account_name, "-g", "ml-rg")[0]["value"]
    blob_url = account["properties"]["primaryEndpoints"]["blob"]
    keyed = BlobServiceClient(
        blob_url, credential={"account_name": account_name, "account_key": key}, connection_verify=server.ca_file
    )
    keyed.get_container_client("demo-data").upload_blob("input.txt", b"hello storage", overwrite=True)
    click.echo(f"  uploaded input.txt to {blob_url}demo-data/ (with the account key, as the data's owner)")
    compute = demo.json("ml", "compute", "show", "-g", "ml-rg", "-w", "ws1", "-n", "k8s-compute")
    principal = compute["identity"]["principalId"]
    demo.tether(
        "role",
        "assignment",
        "create",
        "--assignee-object-id",
        principal,
        "--role",
        "Storage Blob Data Contributor",
        "--scope",
        account["id"],
        "-o",
        "none",
    )
    create_job(demo, "k8s-compute", "storage-job", timeout_s=120)
    job = demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "storage-job")
    pod = asyncio.run(first_pod(aks_kubeconfig, "team-a", cluster_job_name(str(job["id"]).lower(), "storage-job")))
    demo.say(
        "The job's code (PLAYED on this machine with the pod's identity: kwok runs no container) "
        "reads input.txt and writes result.txt with WorkloadIdentityCredential, no key."
    )
    outcome = asyncio.run(
        played_blob_workload(
            aks_kubeconfig,
            "team-a",
            pod,
            server=server,
            account_url=blob_url,
            container="demo-data",
            source="input.txt",
            target="result.txt",
        )
    )
    click.echo(f"  workload: read {outcome.get('read')!r}, wrote {outcome.get('wrote') or outcome.get('write_error')}")
    result = keyed.get_container_client("demo-data").download_blob("result.txt").readall()
    demo.check(
        "job reads and writes workspace storage with its identity",
        result == b"HELLO STORAGE",
        f"result.txt = {result.decode()!r}",
    )
