"""Which permission each Blob service request needs of an OAuth caller (Azure's table), and the roles that grant it."""

from __future__ import annotations

import pytest

from tether.domain.blob_requests import BlobRequest, Permission, parse_blob_path, permission_for
from tether.domain.roles import STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_OWNER, STORAGE_BLOB_DATA_READER

C = "Microsoft.Storage/storageAccounts/blobServices/containers"


def test_paths_name_account_container_and_blob() -> None:
    assert parse_blob_path("/acct/c1/dir/a b.txt") == BlobRequest("acct", "c1", "dir/a b.txt")
    assert parse_blob_path("/acct/c1") == BlobRequest("acct", "c1", None)
    assert parse_blob_path("/acct/") == BlobRequest("acct", None, None)
    assert parse_blob_path("/") is None


@pytest.mark.parametrize(
    ("path", "method", "query", "expected"),
    [
        ("/a/c/b", "GET", {}, Permission(f"{C}/blobs/read", data=True)),
        ("/a/c/b", "HEAD", {}, Permission(f"{C}/blobs/read", data=True)),
        ("/a/c/b", "PUT", {}, Permission(f"{C}/blobs/write", data=True)),
        ("/a/c/b", "PUT", {"comp": "block"}, Permission(f"{C}/blobs/write", data=True)),
        ("/a/c/b", "PUT", {"comp": "appendblock"}, Permission(f"{C}/blobs/add/action", data=True)),
        ("/a/c/b", "DELETE", {}, Permission(f"{C}/blobs/delete", data=True)),
        ("/a/c/b", "GET", {"comp": "tags"}, Permission(f"{C}/blobs/tags/read", data=True)),
        ("/a/c", "GET", {"restype": "container", "comp": "list"}, Permission(f"{C}/blobs/read", data=True)),
        ("/a/c", "PUT", {"restype": "container"}, Permission(f"{C}/write", data=False)),
        ("/a/c", "GET", {"restype": "container"}, Permission(f"{C}/read", data=False)),
        ("/a/c", "DELETE", {"restype": "container"}, Permission(f"{C}/delete", data=False)),
        ("/a/", "GET", {"comp": "list"}, Permission(f"{C}/read", data=False)),
        (
            "/a/",
            "POST",
            {"restype": "service", "comp": "userdelegationkey"},
            Permission("Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action", data=False),
        ),
    ],
)
def test_permission_of_each_request(path: str, method: str, query: dict[str, str], expected: Permission) -> None:
    target = parse_blob_path(path)
    assert target is not None
    assert permission_for(target, method=method, query=query) == expected


def test_the_data_roles_grant_what_their_names_say() -> None:
    read = Permission(f"{C}/blobs/read", data=True)
    write = Permission(f"{C}/blobs/write", data=True)
    for role in (STORAGE_BLOB_DATA_READER, STORAGE_BLOB_DATA_CONTRIBUTOR):
        assert role.allows(read.action, data=True)
        assert not role.allows(read.action, data=False)  # data actions are not actions
    assert STORAGE_BLOB_DATA_OWNER.allows(read.action, data=True)
    assert not STORAGE_BLOB_DATA_READER.allows(write.action, data=True)
    assert STORAGE_BLOB_DATA_CONTRIBUTOR.allows(write.action, data=True)
    assert STORAGE_BLOB_DATA_OWNER.allows(f"{C}/blobs/tags/write", data=True)
