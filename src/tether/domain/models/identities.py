"""A user-assigned managed identity's stored state (``Microsoft.ManagedIdentity/userAssignedIdentities``):
``UserAssignedIdentityRecord``.

All public: the identity's principal in the tenant (``principalId`` = its object id, ``clientId`` = its app
id) and the tenant. They are copied from the principal when the identity is created and never change; the
principal itself (its roles, its federated credentials) lives in the principals table. The layout on disk
is the model's dump by alias, in field order, as the provider wrote it before the model existed.
"""

from __future__ import annotations

from pydantic import Field

from tether.domain.models.stored import StoredModel


class UserAssignedIdentityRecord(StoredModel):
    tenant_id: str = Field(alias="tenantId")
    principal_id: str = Field(alias="principalId")
    client_id: str = Field(alias="clientId")
