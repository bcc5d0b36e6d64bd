"""Role assignments as the store returns them: who holds which role (by GUID) at which scope.

``id`` and ``scope_key`` are lower-case (what lookups compare); ``display_id`` and ``scope`` keep the
casing they were created with (what answers show).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    name: str
    display_id: str
    subscription_id: str
    scope_key: str
    scope: str
    principal_id: str
    principal_type: str
    role_definition_guid: str
    description: str | None
    created_at: dt.datetime
    created_by: str
