"""Container registries from the client side: find a registry, ACR's token flow, docker config, repositories.

``tether acr login`` exchanges the profile's API token for a registry refresh token at Tether's
``/oauth2/exchange`` (the server's own URL: the realm the login server's ``/v2/`` challenge names) and
writes it into a docker config (``$DOCKER_CONFIG/config.json``, default ``~/.docker/config.json``) as
``az acr login`` does: ``identitytoken`` plus the same token as the password of the user
``00000000-0000-0000-0000-000000000000``, so docker, skopeo, crane and oras use it. Repository
listings use a short-lived access token for ``registry:catalog:*`` / ``repository:<r>:pull``.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
from pathlib import Path
from typing import Any

import httpx2

from tether.client import ids
from tether.client.core import TetherClient
from tether.client.errors import ClientError

DOCKER_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
REGISTRIES = "Microsoft.ContainerRegistry/registries"


def find(client: TetherClient, name: str, *, resource_group: str | None = None) -> dict[str, Any]:
    """The registry called ``name`` (in ``resource_group``, or anywhere in the subscription)."""
    if resource_group:
        return client.get(f"{ids.resource_group(client.profile, resource_group)}/providers/{REGISTRIES}/{name}")
    for item in client.list(f"{ids.subscription(client.profile)}/providers/{REGISTRIES}"):
        if str(item.get("name", "")).lower() == name.lower():
            return item
    raise ClientError(
        f"There is no container registry named '{name}' in the subscription. Create it with: "
        f"tether acr create -n {name} -g <resource group>",
        code="ResourceNotFound",
        status=404,
    )


def _login_http(client: TetherClient) -> httpx2.Client:
    ca = client.profile.ca_file
    return httpx2.Client(verify=ssl.create_default_context(cafile=ca) if ca else True, timeout=60)


def _token_service(client: TetherClient) -> str:
    """Where ACR's token endpoints are: the Tether server itself (its registries' ``/v2/`` realm)."""
    return client.profile.server.rstrip("/")


def _answer(response: httpx2.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        try:
            errors = response.json().get("errors") or [{}]
            detail = errors[0].get("message") or response.text
        except ValueError:
            detail = response.text
        raise ClientError(f"{what} failed ({response.status_code}): {detail}", code="RegistryTokenFailed")
    body: dict[str, Any] = response.json()
    return body


def refresh_token(client: TetherClient, login_server: str) -> str:
    """A registry refresh token for the profile's principal and ``login_server``, from Tether's ``/oauth2/exchange``."""
    data = {
        "grant_type": "access_token",
        "service": login_server,
        "tenant": client.profile.tenant_id,
        "access_token": client.access_token(),
    }
    with _login_http(client) as http:
        response = http.post(f"{_token_service(client)}/oauth2/exchange", data=data)
    return str(_answer(response, "Login")["refresh_token"])


def access_token(client: TetherClient, login_server: str, *, refresh: str, scope: str) -> str:
    data = {"grant_type": "refresh_token", "service": login_server, "scope": scope, "refresh_token": refresh}
    with _login_http(client) as http:
        response = http.post(f"{_token_service(client)}/oauth2/token", data=data)
    return str(_answer(response, "The registry token request")["access_token"])


def docker_config_path() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def write_docker_config(path: Path, login_server: str, refresh: str) -> None:
    """Add (or replace) the login server's entry, keeping every other entry of the file."""
    config: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    auth = base64.b64encode(f"{DOCKER_TOKEN_USER}:{refresh}".encode()).decode()
    config.setdefault("auths", {})[login_server] = {"auth": auth, "identitytoken": refresh}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(config, indent=2) + "\n")
    temporary.chmod(0o600)  # it holds a token
    temporary.replace(path)


def _registry_get(client: TetherClient, login_server: str, path: str, *, scope: str) -> dict[str, Any]:
    token = access_token(client, login_server, refresh=refresh_token(client, login_server), scope=scope)
    with _login_http(client) as http:
        response = http.get(f"https://{login_server}{path}", headers={"Authorization": f"Bearer {token}"})
    if response.status_code in (401, 403):
        raise ClientError(
            f"The registry {login_server} refused to list ({response.status_code}): the principal needs AcrPull "
            "(or a role with Microsoft.ContainerRegistry/registries/pull/read) on the registry.",
            code="AuthorizationFailed",
            status=403,
        )
    if response.status_code == 404:
        raise ClientError(f"Not found in the registry {login_server}: {path}", code="NotFound", status=404)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def repositories(client: TetherClient, login_server: str) -> list[str]:
    body = _registry_get(client, login_server, "/v2/_catalog", scope="registry:catalog:*")
    return sorted(body.get("repositories") or [])


def tags(client: TetherClient, login_server: str, repository: str) -> list[str]:
    body = _registry_get(client, login_server, f"/v2/{repository}/tags/list", scope=f"repository:{repository}:pull")
    return sorted(body.get("tags") or [])
