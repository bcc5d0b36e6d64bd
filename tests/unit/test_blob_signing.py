"""Tether's account SAS against azure-storage-blob's own: the same fields signed with the same key give the same sig."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

from azure.storage.blob import (
    AccountSasPermissions,
    ContainerSasPermissions,
    ResourceTypes,
    generate_account_sas,
    generate_container_sas,
)

from tether.crypto import new_storage_key
from tether.storage.signing import account_sas, container_sas


def test_account_sas_signature_matches_the_sdks() -> None:
    key = new_storage_key()
    expiry = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    theirs = parse_qs(
        generate_account_sas(
            "acct1",
            key,
            resource_types=ResourceTypes(service=True, container=True, object=True),
            permission=AccountSasPermissions(read=True, write=True, list=True),
            expiry=expiry,
            protocol="https,http",
        )
    )
    # The SDK signs with its own service version; Tether's default (SAS_VERSION) is what Azurite gets.
    version = theirs["sv"][0]
    ours = parse_qs(account_sas(account="acct1", key=key, expiry=expiry, permissions="rwl", version=version))
    assert ours["sig"] == theirs["sig"]
    assert ours["se"] == theirs["se"] == ["2030-01-02T03:04:05Z"]


def test_a_different_key_gives_a_different_signature() -> None:
    expiry = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    first = parse_qs(account_sas(account="acct1", key=new_storage_key(), expiry=expiry))
    second = parse_qs(account_sas(account="acct1", key=new_storage_key(), expiry=expiry))
    assert first["sig"] != second["sig"]


def test_container_sas_signature_matches_the_sdks() -> None:
    key = new_storage_key()
    expiry = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    theirs = parse_qs(
        generate_container_sas(
            "acct1",
            "code-1",
            account_key=key,
            permission=ContainerSasPermissions(read=True, create=True, write=True, list=True),
            expiry=expiry,
            protocol="https,http",
        )
    )
    version = theirs["sv"][0]
    ours = parse_qs(
        container_sas(account="acct1", container="code-1", key=key, expiry=expiry, permissions="rcwl", version=version)
    )
    assert theirs["sp"] == ["rcwl"]
    assert ours["sig"] == theirs["sig"]
    assert ours["sr"] == theirs["sr"] == ["c"]
