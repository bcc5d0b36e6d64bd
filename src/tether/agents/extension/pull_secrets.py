"""A job's image-pull secret: the compute identity's registry credential, obtained by workload identity.

For a job whose image is in a Tether registry (``spec.imageRegistry.loginServer``), before its pods:

1. a service-account token for the compute's ServiceAccount (TokenRequest, audience
   ``api://AzureADTokenExchange``, 10 minutes), exactly what the pods' own projected token is;
2. exchanged at Tether's token endpoint (client credentials with that token as client assertion) for
   an API token of the compute identity;
3. exchanged at Tether's ``/oauth2/exchange`` (the same authority, CA bundle and connection; the registry
   is named by ``service``, its login server) for a registry refresh token (3 hours);
4. written as a ``kubernetes.io/dockerconfigjson`` Secret ``<job>-pull``, owned by the TetherJob (so it
   is deleted with it), named in the pods' ``imagePullSecrets``. The kubelet passes it to the runtime,
   which asks Tether (the realm of the login server's challenge) for a 5-minute access token with only the
   pull the identity's roles allow.

Nothing long-lived is stored: the Secret's token expires in 3 hours, and a revoked AcrPull stops the
next pull. Failures are temporary (``Unavailable``, retried by the controller), except a refusal by
Tether, which fails the job with its message (``RegistryCredentialRefused``).
"""

from __future__ import annotations

import base64
import json
import ssl
from typing import Any, cast

import httpx2
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret, ServiceAccountToken

from tether.agents.extension.jobspec import JobFailed, JobSpec
from tether.agents.extension.pods import JobRef, owner_reference, pull_secret_name
from tether.domain.principals import TOKEN_EXCHANGE_AUDIENCE
from tether.errors import Unavailable
from tether.kube.errors import KUBE_ERRORS, kube_error

DOCKER_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def _service_account_token(client: AsyncClient, namespace: str, account: str) -> str:
    request = ServiceAccountToken(
        metadata=ObjectMeta(name=account, namespace=namespace),  # lightkube reads the namespace from here
        spec=TokenRequestSpec(audiences=[TOKEN_EXCHANGE_AUDIENCE], expirationSeconds=600),
    )
    try:
        answer = await client.create(request, account, namespace=namespace)
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"requesting a token for ServiceAccount {namespace}/{account}") from e
    token = answer.status.token if answer.status else None
    if not token:
        raise Unavailable(f"The API server gave no token for ServiceAccount {namespace}/{account}.")
    return str(token)


def _refused(step: str, response: httpx2.Response) -> JobFailed:
    return JobFailed(
        f"The compute identity could not get a registry credential ({step} answered {response.status_code}: "
        f"{response.text[:400]}).",
        code="RegistryCredentialRefused",
    )


async def registry_refresh_token(client: AsyncClient, job: JobRef, spec: JobSpec, *, login_server: str) -> str:
    """The compute identity's registry refresh token, by workload identity (steps 1-3 above)."""
    identity = spec.identity
    if identity is None:
        raise JobFailed(
            f"The job's image is in the registry {login_server}, but its compute has no identity to pull with: "
            "assign one to the compute.",
            code="AuthorizationFailed",
        )
    assertion = await _service_account_token(client, job.namespace, identity.service_account_name)
    verify = ssl.create_default_context(cadata=identity.ca_bundle) if identity.ca_bundle else True
    authority = identity.authority_host.rstrip("/")
    async with httpx2.AsyncClient(verify=verify, timeout=30) as http:
        try:
            issued = await http.post(
                f"{authority}/{identity.tenant_id}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": identity.client_id,
                    "client_assertion_type": _ASSERTION_TYPE,
                    "client_assertion": assertion,
                    "scope": f"{authority}/.default",
                },
            )
            if issued.status_code != 200:
                raise _refused("Tether's token endpoint", issued)
            exchanged = await http.post(
                f"{authority}/oauth2/exchange",
                data={
                    "grant_type": "access_token",
                    "service": login_server,
                    "tenant": identity.tenant_id,
                    "access_token": issued.json()["access_token"],
                },
            )
        except httpx2.HTTPError as e:
            raise Unavailable(f"Getting the registry credential for {login_server} failed: {e!r}") from e
    if exchanged.status_code != 200:
        raise _refused(f"Tether's registry token exchange for {login_server}", exchanged)
    return str(exchanged.json()["refresh_token"])


def render_pull_secret(job: JobRef, *, login_server: str, refresh_token: str) -> dict[str, Any]:
    auth = base64.b64encode(f"{DOCKER_TOKEN_USER}:{refresh_token}".encode()).decode()
    entry = {"username": DOCKER_TOKEN_USER, "password": refresh_token, "auth": auth}
    config = json.dumps({"auths": {login_server: entry}})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {
            "name": pull_secret_name(job.name),
            "namespace": job.namespace,
            "ownerReferences": [owner_reference(job)],
        },
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    }


async def ensure_pull_secret(client: AsyncClient, job: JobRef, spec: JobSpec) -> None:
    """Write the job's pull secret (replacing an older one) when its image is in a Tether registry."""
    if spec.image_registry is None:
        return
    refresh = await registry_refresh_token(client, job, spec, login_server=spec.image_registry)
    body = render_pull_secret(job, login_server=spec.image_registry, refresh_token=refresh)
    name = body["metadata"]["name"]
    try:
        await client.create(cast(Secret, Secret.from_dict(body)))
    except KUBE_ERRORS as e:
        if not (isinstance(e, ApiError) and e.status.code == 409):
            raise kube_error(e, doing=f"creating the pull secret {job.namespace}/{name}") from e
        try:
            await client.replace(cast(Secret, Secret.from_dict(body)))
        except KUBE_ERRORS as again:
            raise kube_error(again, doing=f"replacing the pull secret {job.namespace}/{name}") from again
