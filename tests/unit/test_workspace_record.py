"""A workspace's stored model: the layout on disk it reads and writes, and the public properties derived from it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tether.domain.models.workspaces import WorkspaceRecord
from tether.protocol.workspaces import workspace_properties

IDENTITY = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/ws-id"
)
ACCOUNT = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.Storage/storageAccounts/stws1a2b3c4d"
)


def _stored() -> dict[str, Any]:
    """A workspace's ``properties`` as the server stored them before the model existed (None ones left out)."""
    return {
        "friendlyName": "Team workspace",
        "workspaceId": "4f0c7f0e-8c1e-4d35-9a53-2f7d1c1f6a11",
        "primaryUserAssignedIdentity": IDENTITY,
        "storageAccount": ACCOUNT,
    }


def test_the_stored_layout_reads_into_typed_fields_and_writes_back_unchanged() -> None:
    record = WorkspaceRecord.from_stored(_stored())

    assert record.workspace_id == "4f0c7f0e-8c1e-4d35-9a53-2f7d1c1f6a11"
    assert record.friendly_name == "Team workspace"
    assert record.description is None
    assert record.primary_user_assigned_identity == IDENTITY
    assert record.storage_account == ACCOUNT
    assert record.to_stored() == _stored()


def test_a_workspace_without_storage_or_user_assigned_identity_stores_only_its_id() -> None:
    record = WorkspaceRecord(workspace_id="w-1")

    assert record.to_stored() == {"workspaceId": "w-1"}
    assert WorkspaceRecord.from_stored(record.to_stored()) == record


def test_a_stored_workspace_without_its_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="workspaceId"):
        WorkspaceRecord.from_stored({"friendlyName": "no id"})


def test_the_public_properties_are_the_set_fields_with_state_and_discovery_url() -> None:
    record = WorkspaceRecord.from_stored(_stored())

    properties = workspace_properties(record, provisioning_state="Succeeded", discovery_url="https://127.0.0.1:1/d")

    assert properties == {**_stored(), "provisioningState": "Succeeded", "discoveryUrl": "https://127.0.0.1:1/d"}
    assert "discoveryUrl" not in workspace_properties(record, provisioning_state="Creating")


def test_unknown_stored_keys_are_kept_on_disk_but_never_answered() -> None:
    stored = {**_stored(), "_laterPrivateKey": {"x": 1}}
    record = WorkspaceRecord.from_stored(stored)

    assert record.to_stored() == stored
    assert "_laterPrivateKey" not in workspace_properties(record, provisioning_state="Succeeded")


def test_described_changes_only_the_fields_sent_and_keeps_the_rest() -> None:
    record = WorkspaceRecord.from_stored({**_stored(), "description": "old"})

    changed = record.described(friendly_name=None, description="new")

    assert changed.to_stored() == {**_stored(), "description": "new"}
    assert record.description == "old"  # frozen: the change is a new record
    with pytest.raises(ValidationError):
        record.description = "in place"  # type: ignore[misc]
