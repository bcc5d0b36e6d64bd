"""User Access Administrator: Azure's built-in role (same GUID and actions) that manages access only."""

from __future__ import annotations

from tether.domain.roles import USER_ACCESS_ADMINISTRATOR, find_role, role_by_guid


def test_it_is_found_by_its_azure_guid_and_name() -> None:
    assert role_by_guid("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9") is USER_ACCESS_ADMINISTRATOR
    assert find_role("user access administrator") is USER_ACCESS_ADMINISTRATOR
    assert USER_ACCESS_ADMINISTRATOR.actions == ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*")


def test_it_assigns_roles_and_reads_everything_but_changes_no_resource() -> None:
    role = USER_ACCESS_ADMINISTRATOR
    assert role.allows("Microsoft.Authorization/roleAssignments/write")
    assert role.allows("Microsoft.Authorization/roleAssignments/delete")
    assert role.allows("Microsoft.MachineLearningServices/workspaces/read")
    assert not role.allows("Microsoft.MachineLearningServices/workspaces/write")
    assert not role.allows("Microsoft.Resources/subscriptions/resourceGroups/delete")
    assert not role.allows("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", data=True)
