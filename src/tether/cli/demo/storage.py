"""The demo's storage step: a job reads its input from, and writes its result to, the workspace's storage.

ws1's default storage account (made with the workspace) gets a container with an input blob; the
compute identity of k8s-compute is granted Storage Blob Data Contributor on the account; a job runs on
k8s-compute's real node, and its own Python, inside the container, reads ``input.txt`` and writes
``result.txt`` with the unmodified ``azure-storage-blob`` and ``WorkloadIdentityCredential`` (what
``DefaultAzureCredential`` picks in a pod; no key). The container runs on the host network, so the
account's loopback blob URL is the one it dials; it trusts Tether's CA through ``REQUESTS_CA_BUNDLE``,
which the operator sets.
"""

from __future__ import annotations

import click
from azure.storage.blob import BlobServiceClient

from tether.cli.demo.jobs import create_job
from tether.cli.demo.narrator import Narrator
from tether.client.views import read_view
from tether.protocol.answers import StorageAccountAnswer, WorkspaceAnswer
from tether.server_process import ServerProcess

#: The job's command: read input.txt, write result.txt (upper-cased), with the compute identity.
STORAGE_COMMAND = """\
python3 - <<'PY'
from azure.identity import WorkloadIdentityCredential
from azure.storage.blob import ContainerClient
container = ContainerClient("{blob_url}", "demo-data", credential=WorkloadIdentityCredential())
text = container.download_blob("input.txt").readall().decode()
print("read input.txt:", text)
container.upload_blob("result.txt", text.upper().encode(), overwrite=True)
print("wrote result.txt")
PY
"""


def run_job_with_storage(demo: Narrator, server: ServerProcess) -> None:
    demo.say("Storage: ws1's default storage account; a job reads its input and writes its result there.")
    workspace = read_view(WorkspaceAnswer, demo.json("ml", "workspace", "show", "-g", "ml-rg", "-n", "ws1"), what="ws1")
    account_name = str(workspace.properties.storageAccount).rsplit("/", 1)[-1]
    account = read_view(
        StorageAccountAnswer,
        demo.json("storage", "account", "show", "-g", "ml-rg", "-n", account_name),
        what=f"storage account '{account_name}'",
    )
    demo.tether(
        "storage", "container", "create", "-n", "demo-data", "--account-name", account_name, "-g", "ml-rg", "-o", "none"
    )
    key = demo.json("storage", "account", "keys", "list", "-n", account_name, "-g", "ml-rg")[0]["value"]
    blob_url = account.properties.primaryEndpoints.blob
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
        account.id,
        "-o",
        "none",
    )
    demo.say(
        "A job on the real node: its own Python reads input.txt and writes result.txt with "
        "WorkloadIdentityCredential and azure-storage-blob, no key."
    )
    create_job(demo, "k8s-compute", "storage-job", timeout_s=180, command=STORAGE_COMMAND.format(blob_url=blob_url))
    demo.tether("ml", "job", "stream", "-g", "ml-rg", "-w", "ws1", "-n", "storage-job")
    result = keyed.get_container_client("demo-data").download_blob("result.txt").readall()
    demo.check(
        "job reads and writes workspace storage with its identity",
        result == b"HELLO STORAGE",
        f"result.txt = {result.decode()!r}",
    )
