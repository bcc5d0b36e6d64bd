"""Playing a job's workload on a cluster whose pods do not execute (kwok): its identity, as the kubelet would.

From the pod the operator created, take its service account, its projected-token audience and its
``AZURE_*`` environment; obtain the token with TokenRequest (what the kubelet does for the projected
volume); write it to a file; then run the unmodified ``azure-identity`` ``WorkloadIdentityCredential``
with the pod's environment in a child process. What comes back is what code inside the container
would get. Used by the identity tests and the demo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lightkube import AsyncClient
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod, ServiceAccount

from tether.domain.principals import TOKEN_EXCHANGE_AUDIENCE

AUDIENCE = TOKEN_EXCHANGE_AUDIENCE
_WORKLOAD = """
import json, os, sys
from azure.identity import WorkloadIdentityCredential
token = WorkloadIdentityCredential().get_token(sys.argv[1])
sys.stdout.write(json.dumps({"token": token.token}))
"""


class WorkloadIdentityError(RuntimeError):
    """azure-identity inside the played workload did not get a token; the message is its error."""


@dataclass(frozen=True)
class PodIdentity:
    namespace: str
    service_account: str
    environment: dict[str, str]
    audience: str


async def pod_identity(client: AsyncClient, *, namespace: str, pod_name: str) -> PodIdentity:
    """What the pod would run with: its service account, AZURE_* environment and token audience."""
    pod = await client.get(Pod, pod_name, namespace=namespace)
    if pod.spec is None:
        raise WorkloadIdentityError(f"pod {namespace}/{pod_name} has no spec")
    container = pod.spec.containers[0]
    environment = {e.name: e.value or "" for e in container.env or [] if e.name.startswith("AZURE_")}
    audience = AUDIENCE
    for volume in pod.spec.volumes or []:
        for source in (volume.projected.sources if volume.projected else None) or []:
            if source.serviceAccountToken is not None and source.serviceAccountToken.audience:
                audience = source.serviceAccountToken.audience
    return PodIdentity(namespace, pod.spec.serviceAccountName or "default", environment, audience)


async def projected_token(client: AsyncClient, identity: PodIdentity) -> str:
    """The token the kubelet would project into the pod (TokenRequest for its service account)."""
    request = ServiceAccount.Token(
        metadata=ObjectMeta(name=identity.service_account),
        spec=TokenRequestSpec(audiences=[identity.audience], expirationSeconds=3600),
    )
    issued = await client.create(request, identity.service_account, namespace=identity.namespace)
    if issued.status is None or not issued.status.token:
        raise WorkloadIdentityError(f"TokenRequest for {identity.service_account} returned no token")
    return str(issued.status.token)


def run_with_pod_identity(
    identity: PodIdentity, token: str, *, ca_file: str, argv: list[str]
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (a Python child) with the pod's AZURE_* environment and its projected token in a file."""
    with tempfile.TemporaryDirectory(prefix="tether-workload-") as tmp:
        token_file = Path(tmp) / "azure-identity-token"
        token_file.write_text(token)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AZURE_")},
            **identity.environment,
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            "REQUESTS_CA_BUNDLE": ca_file,
            "SSL_CERT_FILE": ca_file,
        }
        return subprocess.run(
            [sys.executable, *argv], env=env, capture_output=True, text=True, timeout=180, check=False
        )


def get_token_in_workload(identity: PodIdentity, token: str, *, scope: str, ca_file: str) -> str:
    """Run azure-identity's WorkloadIdentityCredential with the pod's environment; returns the access token."""
    result = run_with_pod_identity(identity, token, ca_file=ca_file, argv=["-c", _WORKLOAD, scope])
    if result.returncode != 0:
        raise WorkloadIdentityError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    token_value: str = json.loads(result.stdout)["token"]
    return token_value
