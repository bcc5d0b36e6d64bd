"""What providers need of the blob engine (implemented by ``tether.storage.engine`` over Azurite).

Containers live in the blob engine only, not in the resources table: ARM's container operations and
the blob endpoint's ``restype=container`` requests then see one truth. The engine is injected by the
composition root, so providers stay free of HTTP.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol


class BlobEngine(Protocol):
    async def create_container(self, account: str, container: str, *, metadata: dict[str, str]) -> bool:
        """Create a container; False when it already existed."""

    async def get_container(self, account: str, container: str) -> dict[str, Any] | None:
        """``{"name", "etag", "lastModified", "metadata"}``, or None when there is no such container."""

    async def list_containers(self, account: str) -> list[dict[str, Any]]: ...

    async def delete_container(self, account: str, container: str) -> bool:
        """Delete a container; False when there was none."""

    async def container_sas(self, account: str, container: str, *, permissions: str, expiry: dt.datetime) -> str:
        """The query string of a service SAS granting ``permissions`` on one container until ``expiry``."""

    async def remove_account(self, account: str) -> None:
        """Stop serving an account and delete its blobs (its ARM resource is gone)."""
