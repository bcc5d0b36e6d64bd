"""A minimal OCI distribution client for tests: push a one-layer artifact, read a manifest, get tokens.

It speaks the registry API directly with httpx2, so each step's status code (201, 401, 403...) can be
asserted; real OCI clients (skopeo) are driven by the e2e tests. Tokens come from Tether's own
``/oauth2/exchange`` and ``/oauth2/token`` (``tether``: a client whose base URL is the Tether server),
the registry's bytes from its login server.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import httpx2

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Artifact:
    config: bytes
    layer: bytes
    manifest: bytes


def artifact(content: bytes) -> Artifact:
    config = b"{}"
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(config), "size": 2},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(content), "size": len(content)}
        ],
    }
    return Artifact(config, content, json.dumps(manifest).encode())


async def exchange(tether: httpx2.AsyncClient, login: str, *, access_token: str) -> httpx2.Response:
    data = {"grant_type": "access_token", "service": login, "access_token": access_token}
    return await tether.post("/oauth2/exchange", data=data)


async def registry_token(tether: httpx2.AsyncClient, login: str, *, refresh_token: str, scope: str) -> str:
    data = {"grant_type": "refresh_token", "service": login, "scope": scope, "refresh_token": refresh_token}
    answer = await tether.post("/oauth2/token", data=data)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


async def push(client: httpx2.AsyncClient, login: str, repo: str, tag: str, item: Artifact, *, token: str) -> int:
    """Push blobs then the manifest; the first status that is not a success, else the manifest's (201)."""
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    for blob in (item.config, item.layer):
        started = await client.post(f"https://{login}/v2/{repo}/blobs/uploads/", headers=auth)
        if started.status_code != 202:
            return started.status_code
        location = started.headers["location"]
        url = httpx2.URL(location if location.startswith("http") else f"https://{login}{location}")
        url = url.copy_add_param("digest", digest_of(blob))  # keeps the registry's _state parameter
        done = await client.put(url, content=blob, headers=auth)
        if done.status_code != 201:
            return done.status_code
    headers = {**auth, "Content-Type": MANIFEST_TYPE}
    answer = await client.put(f"https://{login}/v2/{repo}/manifests/{tag}", content=item.manifest, headers=headers)
    return answer.status_code


async def pull_manifest(client: httpx2.AsyncClient, login: str, repo: str, tag: str, *, token: str) -> httpx2.Response:
    headers = {"Accept": MANIFEST_TYPE, **({"Authorization": f"Bearer {token}"} if token else {})}
    return await client.get(f"https://{login}/v2/{repo}/manifests/{tag}", headers=headers)
