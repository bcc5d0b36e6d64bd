"""Stored models of datastores and of ML assets (environment and code containers and versions): each reads the
layout the providers wrote before the models existed, writes it back key for key, answers what the providers
answered, and never answers a private key (a code version's ``_snapshot``)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tether.domain import resource_types as rt
from tether.domain.models.assets import (
    AssetContainerRecord,
    CodeVersionRecord,
    EnvironmentVersionRecord,
    version_record_type,
)
from tether.domain.models.datastores import DatastoreRecord, default_datastore
from tether.domain.models.jobs import CodeSnapshot
from tether.protocol.datastores import datastore_properties
from tether.protocol.ml_assets import asset_properties

BLOB_HOST = "127.0.0.1:10000"


def _default_datastore() -> dict[str, Any]:
    """``workspaceblobstore`` as the workspace's creation stored it before the model existed."""
    return {
        "datastoreType": "AzureBlob",
        "accountName": "stws1a2b3c4d",
        "containerName": "azureml-blobstore-4f0c7f0e",
        "endpoint": BLOB_HOST,
        "protocol": "https",
        "isDefault": True,
        "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
        "description": None,
        "properties": {},
        "tags": {},
    }


def _put_datastore() -> dict[str, Any]:
    """A datastore as a PUT stored it before the model existed: the request's fields, unsent ones null."""
    return {
        "datastoreType": "AzureBlob",
        "accountName": "stdata",
        "containerName": "inputs",
        "endpoint": BLOB_HOST,
        "protocol": "https",
        "description": None,
        "tags": None,
        "properties": None,
        "serviceDataAccessAuthIdentity": None,
        "isDefault": False,
    }


def test_the_default_datastore_round_trips_key_for_key() -> None:
    record = DatastoreRecord.from_stored(_default_datastore())

    assert record.is_default
    assert (record.account_name, record.container_name) == ("stws1a2b3c4d", "azureml-blobstore-4f0c7f0e")
    assert record.to_stored() == _default_datastore()
    assert list(record.to_stored()) == list(_default_datastore())


def test_a_datastore_written_by_a_put_reads_and_writes_the_same_keys() -> None:
    record = DatastoreRecord.from_stored(_put_datastore())

    assert not record.is_default
    assert record.to_stored() == _put_datastore()  # the same object; JSON keys are unordered


def test_a_datastores_answer_adds_its_credential_kind_and_keeps_unknown_keys() -> None:
    record = DatastoreRecord.from_stored({**_put_datastore(), "addedLater": 1})

    properties = datastore_properties(record)

    assert properties == {**_put_datastore(), "addedLater": 1, "credentials": {"credentialsType": "AccountKey"}}


def test_the_default_datastore_is_found_among_a_workspaces() -> None:
    others = DatastoreRecord.from_stored(_put_datastore())
    default = DatastoreRecord.from_stored(_default_datastore())

    assert default_datastore([others, default]) == default
    assert default_datastore([others]) is None


def test_a_container_round_trips_with_its_latest_version_once_it_has_one() -> None:
    stored = {"description": None, "tags": {}, "properties": {}, "isArchived": False}
    record = AssetContainerRecord.from_stored(stored)
    assert record.to_stored() == stored
    assert record.latest_version is None

    later = record.model_copy(update={"latest_version": "3"})

    assert later.to_stored() == {**stored, "latestVersion": "3"}
    assert list(later.to_stored()) == [*stored, "latestVersion"]
    assert asset_properties(later, provisioning_state="Succeeded") == {
        **stored,
        "latestVersion": "3",
        "provisioningState": "Succeeded",
    }


def test_a_container_keeps_is_anonymous_only_when_sent() -> None:
    stored = {"description": "d", "tags": {"a": "b"}, "properties": {}, "isArchived": False, "isAnonymous": True}

    assert AssetContainerRecord.from_stored(stored).to_stored() == stored


def _environment_version() -> dict[str, Any]:
    """An environment version as the provider stored it: defaults, the request's sent fields, the fixed ones."""
    return {
        "isArchived": False,
        "isAnonymous": True,
        "properties": {"hash_sha256": "abc", "hash_version": 1},
        "image": "127.0.0.1:5000/train:1",
        "osType": "Linux",
        "environmentType": "UserCreated",
    }


def test_an_environment_version_round_trips_and_answers_everything() -> None:
    record = version_record_type(rt.ENVIRONMENT_VERSIONS).from_stored(_environment_version())
    assert isinstance(record, EnvironmentVersionRecord)

    assert record.image == "127.0.0.1:5000/train:1"
    assert record.to_stored() == _environment_version()
    assert list(record.to_stored()) == list(_environment_version())
    assert asset_properties(record, provisioning_state="Succeeded") == {
        **_environment_version(),
        "provisioningState": "Succeeded",
    }


def test_an_environment_version_without_an_image_is_refused() -> None:
    with pytest.raises(ValidationError, match="image"):
        EnvironmentVersionRecord.from_stored({"isArchived": False, "isAnonymous": False, "osType": "Linux"})


def _code_version() -> dict[str, Any]:
    return {
        "isArchived": False,
        "isAnonymous": False,
        "description": "the training code",
        "codeUri": f"http://{BLOB_HOST}/stws/code-1/src",
        "_snapshot": {"account": "stws", "container": "code-1", "prefix": "src"},
    }


def test_a_code_versions_snapshot_is_typed_and_private() -> None:
    record = version_record_type(rt.CODE_VERSIONS).from_stored(_code_version())
    assert isinstance(record, CodeVersionRecord)

    assert record.snapshot == CodeSnapshot(account="stws", container="code-1", prefix="src")
    assert record.to_stored() == _code_version()
    properties = asset_properties(record, provisioning_state="Succeeded")
    assert "_snapshot" not in properties
    assert properties == {
        "isArchived": False,
        "isAnonymous": False,
        "description": "the training code",
        "codeUri": f"http://{BLOB_HOST}/stws/code-1/src",
        "provisioningState": "Succeeded",
    }


def test_a_type_that_is_not_an_asset_version_has_no_version_record() -> None:
    with pytest.raises(KeyError):
        version_record_type(rt.CODES)
