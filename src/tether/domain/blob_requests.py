"""What a Blob service request is and which permission it needs, as Azure Storage decides for OAuth callers.

A request to ``/<account>[/<container>[/<blob>]]`` is classified by its level, HTTP method and the
``restype``/``comp`` query parameters. Container operations need management *actions* (Storage Blob
Data Reader grants ``containers/read``); blob operations need *data actions*
(``containers/blobs/read|write|delete|add/action``), which only the data roles grant. The table follows
Azure's "Permissions for calling data operations"; an operation Tether does not know needs the broad
write (or read, for GET/HEAD) permission of its level, so nothing unknown is let through more cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

BLOB_SERVICES = "Microsoft.Storage/storageAccounts/blobServices"
CONTAINERS = f"{BLOB_SERVICES}/containers"
BLOBS = f"{CONTAINERS}/blobs"
USER_DELEGATION_KEY = f"{BLOB_SERVICES}/generateUserDelegationKey/action"


class Level(StrEnum):
    SERVICE = "service"
    CONTAINER = "container"
    BLOB = "blob"


@dataclass(frozen=True)
class BlobRequest:
    """A Blob service request's target: account, container and blob names (path-style URL)."""

    account: str
    container: str | None
    blob: str | None

    @property
    def level(self) -> Level:
        if self.blob:
            return Level.BLOB
        return Level.CONTAINER if self.container else Level.SERVICE


@dataclass(frozen=True)
class Permission:
    """The action a request needs, and whether it is a data action (decided against ``dataActions``)."""

    action: str
    data: bool


def parse_blob_path(path: str) -> BlobRequest | None:
    """``/acct/container/dir/blob.txt`` → its parts; None when the path names no account."""
    parts = path.lstrip("/").split("/", 2)
    if not parts[0]:
        return None
    container = parts[1] if len(parts) > 1 and parts[1] else None
    blob = parts[2] if len(parts) > 2 and parts[2] else None
    return BlobRequest(parts[0], container, blob)


def _service(method: str, comp: str) -> Permission:
    if method == "POST" and comp == "userdelegationkey":
        return Permission(USER_DELEGATION_KEY, data=False)
    if comp == "blobs":  # Find Blobs by Tags
        return Permission(f"{BLOBS}/filter/action", data=True)
    if method in ("GET", "HEAD"):
        return Permission(f"{CONTAINERS}/read", data=False)
    # Set Blob Service Properties and anything unknown at the account level.
    return Permission(f"{BLOB_SERVICES}/write", data=False)


def _container(method: str, comp: str) -> Permission:
    if comp == "list" and method == "GET":  # List Blobs reads blob names: a data action in Azure
        return Permission(f"{BLOBS}/read", data=True)
    if method in ("GET", "HEAD"):
        return Permission(f"{CONTAINERS}/read", data=False)
    if method == "DELETE":
        return Permission(f"{CONTAINERS}/delete", data=False)
    if comp == "lease":
        return Permission(f"{CONTAINERS}/lease/action", data=False)
    if comp == "batch":  # a batch's sub-requests are each blob deletes or tier changes
        return Permission(f"{BLOBS}/delete", data=True)
    return Permission(f"{CONTAINERS}/write", data=False)


def _blob(method: str, comp: str) -> Permission:
    if comp == "tags":
        verb = "read" if method in ("GET", "HEAD") else "write"
        return Permission(f"{BLOBS}/tags/{verb}", data=True)
    if method in ("GET", "HEAD"):
        return Permission(f"{BLOBS}/read", data=True)
    if method == "DELETE":
        return Permission(f"{BLOBS}/delete", data=True)
    if comp == "appendblock":
        return Permission(f"{BLOBS}/add/action", data=True)
    # Azure also accepts add/action for creating a new blob; Tether asks the broader write of every PUT.
    return Permission(f"{BLOBS}/write", data=True)


def permission_for(request: BlobRequest, *, method: str, query: dict[str, str]) -> Permission:
    """The action (or data action) an OAuth caller needs for this request."""
    method = method.upper()
    comp = query.get("comp", "").lower()
    if request.level is Level.SERVICE:
        return _service(method, comp)
    if request.level is Level.CONTAINER:
        return _container(method, comp)
    return _blob(method, comp)
