"""The blob engine as providers see it (``tether.providers.blob_engine.BlobEngine``), over the accounts' Azurite.

Container calls are plain Blob service REST calls to the account's Azurite, signed with Tether's
account SAS. Listing parses Azurite's XML (trusted: a loopback process Tether started).
"""

from __future__ import annotations

import datetime as dt
import shutil
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from tether.errors import NotFound, Unavailable
from tether.storage.accounts import StoredAccount
from tether.storage.gateway import BlobGateway
from tether.storage.signing import container_sas

_VERSION = {"x-ms-version": "2021-08-06"}


class AzuriteEngine:
    def __init__(self, gateway: BlobGateway) -> None:
        self._gateway = gateway

    async def _account(self, name: str) -> tuple[StoredAccount, str]:
        account = await self._gateway.accounts.find(name)
        if account is None:
            raise NotFound(f"There is no storage account '{name}'.", code="ResourceNotFound")
        return account, await self._gateway.engines.url_of(account.keys)

    async def _call(self, method: str, name: str, path: str, query: str, **kwargs: Any) -> Any:
        account, base = await self._account(name)
        url = f"{base}/{name}{path}?{query}&{self._gateway.full_access_sas(account)}"
        response = await self._gateway.http.request(method, url, headers={**_VERSION, **kwargs.pop("headers", {})})
        if response.status_code >= 500:
            raise Unavailable(f"The blob engine answered {response.status_code}: {response.text[:300]}")
        return response

    async def create_container(self, account: str, container: str, *, metadata: dict[str, str]) -> bool:
        headers = {f"x-ms-meta-{k}": v for k, v in metadata.items()}
        response = await self._call("PUT", account, f"/{container}", "restype=container", headers=headers)
        if response.status_code == 409:
            return False
        response.raise_for_status()
        return True

    async def get_container(self, account: str, container: str) -> dict[str, Any] | None:
        response = await self._call("GET", account, f"/{container}", "restype=container")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        metadata = {k[len("x-ms-meta-") :]: v for k, v in response.headers.items() if k.startswith("x-ms-meta-")}
        return {
            "name": container,
            "etag": response.headers.get("etag"),
            "lastModified": response.headers.get("last-modified"),
            "metadata": metadata,
        }

    async def list_containers(self, account: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        marker = ""
        while True:
            response = await self._call("GET", account, "/", f"comp=list&include=metadata&marker={quote(marker)}")
            response.raise_for_status()
            root = ET.fromstring(response.content)
            for item in root.iter("Container"):
                props = item.find("Properties")
                meta = item.find("Metadata")
                found.append(
                    {
                        "name": item.findtext("Name"),
                        "etag": props.findtext("Etag") if props is not None else None,
                        "lastModified": props.findtext("Last-Modified") if props is not None else None,
                        "metadata": {m.tag: m.text or "" for m in meta} if meta is not None else {},
                    }
                )
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return found

    async def delete_container(self, account: str, container: str) -> bool:
        response = await self._call("DELETE", account, f"/{container}", "restype=container")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    async def container_sas(self, account: str, container: str, *, permissions: str, expiry: dt.datetime) -> str:
        """A service SAS (query string) for one container, signed with the account's key; the blob endpoint
        forwards it and Azurite checks it, as Azure would."""
        stored, _ = await self._account(account)
        return container_sas(
            account=account, container=container, key=stored.keys.key1, permissions=permissions, expiry=expiry
        )

    async def remove_account(self, account: str) -> None:
        self._gateway.accounts.forget(account)
        await self._gateway.engines.stop_account(account)
        shutil.rmtree(self._gateway.engines.location_of(account), ignore_errors=True)
