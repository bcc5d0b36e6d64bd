"""A played workload that reads and writes blobs with its compute identity (no keys), as a job's code would.

Like ``tether.testing.workload.get_token_in_workload``, it runs a child process with the pod's
``AZURE_*`` environment and the projected token in the file ``AZURE_FEDERATED_TOKEN_FILE`` names; the
child uses the unmodified ``azure-identity`` and ``azure-storage-blob``: ``WorkloadIdentityCredential``,
what ``DefaultAzureCredential`` picks in a pod, used directly so that no IMDS probe leaves loopback.
It is *played*: kwok pods execute nothing, so this runs on the test machine, not in the pod.
"""

from __future__ import annotations

import json
from typing import Any

from tether.testing.workload import PodIdentity, run_with_pod_identity

_SCRIPT = """
import json, sys
from azure.core.exceptions import HttpResponseError
from azure.identity import WorkloadIdentityCredential
from azure.storage.blob import BlobServiceClient

account_url, container, source, target = sys.argv[1:5]
service = BlobServiceClient(account_url, credential=WorkloadIdentityCredential(), connection_verify=sys.argv[5])
box = service.get_container_client(container)
result = {}
try:
    data = box.download_blob(source).readall()
    result["read"] = data.decode()
except HttpResponseError as e:
    result["read_error"] = {"status": e.status_code, "code": e.error_code, "message": str(e)}
    data = b""
try:
    box.upload_blob(target, data.upper(), overwrite=True)
    result["wrote"] = target
except HttpResponseError as e:
    result["write_error"] = {"status": e.status_code, "code": e.error_code, "message": str(e)}
sys.stdout.write(json.dumps(result))
"""


def read_and_write_in_workload(
    identity: PodIdentity,
    token: str,
    *,
    account_url: str,
    container: str,
    source: str,
    target: str,
    ca_file: str,
) -> dict[str, Any]:
    """Read ``source`` and write its upper-cased content to ``target``; returns what happened (and errors)."""
    argv = ["-c", _SCRIPT, account_url, container, source, target, ca_file]
    result = run_with_pod_identity(identity, token, ca_file=ca_file, argv=argv)
    if result.returncode != 0:
        raise RuntimeError(f"the played workload failed: {result.stderr.strip()[-2000:]}")
    found: dict[str, Any] = json.loads(result.stdout)
    return found
