"""An account's Azurite data directory: kept for the same account, emptied for a new account of the same name."""

from __future__ import annotations

from pathlib import Path

from tether.crypto import new_storage_key
from tether.storage.azurite import AccountKeys, _claim_location


def test_the_same_account_keeps_its_blobs_and_a_new_one_of_that_name_does_not(tmp_path: Path) -> None:
    location = tmp_path / "acct1"
    first = AccountKeys("acct1", new_storage_key(), new_storage_key())
    _claim_location(location, first)
    (location / "blob-data").write_text("old blobs")
    _claim_location(location, first)
    assert (location / "blob-data").read_text() == "old blobs"
    _claim_location(location, AccountKeys("acct1", new_storage_key(), new_storage_key()))
    assert not (location / "blob-data").exists()


def test_a_directory_without_a_marker_is_not_trusted(tmp_path: Path) -> None:
    location = tmp_path / "acct2"
    location.mkdir()
    (location / "stray").write_text("?")
    _claim_location(location, AccountKeys("acct2", new_storage_key(), new_storage_key()))
    assert not (location / "stray").exists()
