"""Wire models of role assignments (``Microsoft.Authorization/roleAssignments``) and access checks."""

from __future__ import annotations

from pydantic import Field

from tether.protocol.arm import StrictModel


class RoleAssignmentProperties(StrictModel):
    roleDefinitionId: str = Field(min_length=1, max_length=1024)  # noqa: N815
    principalId: str = Field(min_length=1, max_length=64)  # noqa: N815
    principalType: str | None = None  # noqa: N815
    description: str | None = Field(None, max_length=1024)
    condition: str | None = None
    conditionVersion: str | None = None  # noqa: N815
    delegatedManagedIdentityResourceId: str | None = None  # noqa: N815


class CreateRoleAssignmentRequest(StrictModel):
    properties: RoleAssignmentProperties


class CheckAccessRequest(StrictModel):
    """Tether's access check (B6): would ``principalId`` be allowed ``action`` on the scope?"""

    principalId: str = Field(min_length=1, max_length=64)  # noqa: N815
    action: str = Field(min_length=3, max_length=512)
    isDataAction: bool | None = None  # noqa: N815
