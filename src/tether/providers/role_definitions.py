"""Built-in role definitions, read-only, as ``Microsoft.Authorization/roleDefinitions`` at any scope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.roles import BUILT_IN_ROLES, RoleDefinition, role_by_guid
from tether.errors import InvalidRequest, NotFound
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult

_ROLE_NAME_FILTER = re.compile(r"roleName\s+eq\s+'([^']+)'", re.IGNORECASE)


def answer(role: RoleDefinition, subscription_id: str) -> dict[str, Any]:
    return {
        "id": role.definition_id(subscription_id),
        "name": role.guid,
        "type": rt.ROLE_DEFINITIONS,
        "properties": {
            "roleName": role.name,
            "type": "BuiltInRole",
            "description": role.description,
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": list(role.data_actions),
                    "notDataActions": list(role.not_data_actions),
                }
            ],
        },
    }


class RoleDefinitions:
    full_type: ClassVar[str] = rt.ROLE_DEFINITIONS

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        role = role_by_guid(resource_id.name)
        if role is None:
            raise NotFound(
                f"The role definition '{resource_id.name}' does not exist.", code="RoleDefinitionDoesNotExist"
            )
        return answer(role, resource_id.subscription_id)

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        wanted = _ROLE_NAME_FILTER.search(params.get("$filter", ""))
        roles = [r for r in BUILT_IN_ROLES if wanted is None or r.name.lower() == wanted.group(1).lower()]
        return Page([answer(r, parent.subscription_id) for r in roles[offset : offset + limit]], more=False)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        raise InvalidRequest("Tether has the built-in roles only; custom roles cannot be created.", code="NotSupported")

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        raise InvalidRequest("Built-in role definitions cannot be deleted.", code="NotSupported")
