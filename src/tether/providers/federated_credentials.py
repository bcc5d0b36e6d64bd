"""Federated identity credentials of user-assigned identities
(``.../userAssignedIdentities/<id>/federatedIdentityCredentials/<name>``).

A credential trusts tokens from ``issuer`` whose ``sub`` is ``subject`` and whose ``aud`` is one of
``audiences``; the token service exchanges such a token for the identity's own access token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.federated_credentials import FederatedCredential
from tether.domain.ids import ResourceId
from tether.domain.principals import Principal
from tether.errors import InvalidRequest, NotFound
from tether.protocol.identities import CreateFederatedCredentialRequest
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import parse_body
from tether.store import Session, federated_credentials, principals

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,119}")


def answer(identity: ResourceId, row: FederatedCredential) -> dict[str, Any]:
    return {
        "id": str(identity.child("federatedIdentityCredentials", row.name)),
        "name": row.name,
        "type": rt.FEDERATED_CREDENTIALS,
        "properties": {"issuer": row.issuer, "subject": row.subject, "audiences": list(row.audiences)},
    }


async def _identity_principal(session: Session, identity: ResourceId) -> Principal:
    principal = await principals.get_by_resource(session, identity.key)
    if principal is None:
        raise NotFound(
            f"The user-assigned identity '{identity.name}' was not found in resource group "
            f"'{identity.resource_group}'.",
            code="ParentResourceNotFound",
        )
    return principal


class FederatedCredentials:
    full_type: ClassVar[str] = rt.FEDERATED_CREDENTIALS

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        identity = resource_id.parent
        assert identity is not None
        async with ctx.store.transaction() as session:
            principal = await _identity_principal(session, identity)
            row = await federated_credentials.get(session, principal.object_id, resource_id.name)
        if row is None:
            raise NotFound(f"Federated identity credential '{resource_id.name}' not found.", code="ResourceNotFound")
        return answer(identity, row)

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        async with ctx.store.transaction() as session:
            principal = await _identity_principal(session, parent)
            rows = await federated_credentials.for_principal(session, principal.object_id)
        return Page([answer(parent, r) for r in rows[offset : offset + limit]], more=offset + limit < len(rows))

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateFederatedCredentialRequest, body).properties
        if not _NAME.fullmatch(resource_id.name):
            raise InvalidRequest(
                f"'{resource_id.name}' is not a valid federated credential name: use 3-120 letters, digits, "
                "'-' and '_', starting with a letter or digit.",
                code="InvalidResourceName",
            )
        identity = resource_id.parent
        assert identity is not None
        async with ctx.store.transaction() as session:
            principal = await _identity_principal(session, identity)
            row, created = await federated_credentials.upsert(
                session,
                principal_id=principal.object_id,
                name=resource_id.name,
                issuer=request.issuer,  # compared exactly with a token's iss, as Entra ID does
                subject=request.subject,
                audiences=request.audiences,
                resource_key=resource_id.key,
            )
            if request.issuerCaCertificate:
                await federated_credentials.trust_issuer(
                    session,
                    tenant_id=principal.tenant_id,
                    issuer=row.issuer,
                    ca_pem=request.issuerCaCertificate,
                    source=str(resource_id),
                )
        return WriteResult(answer(identity, row), created=created)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        identity = resource_id.parent
        assert identity is not None
        async with ctx.store.transaction() as session:
            principal = await _identity_principal(session, identity)
            existed = await federated_credentials.delete(session, principal.object_id, resource_id.name)
        return DeleteResult(existed=existed)
