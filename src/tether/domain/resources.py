"""One stored ARM resource as the store returns it: a frozen snapshot of a ``resources`` row.

A ``Resource`` is plain values, read once: changing it is a store function
(``tether.store.resources.update``) that writes the change and returns the new snapshot; the caller
rebinds its variable. A snapshot held across another change of the same resource is stale: use the
one the change returned. ``key`` is the lower-case id (what lookups compare); ``id`` keeps the casing
the resource was created with (what answers show). ``tags``, ``identity`` and ``properties`` are the
stored JSON: read them, never change them in place (build a new dict and pass it to ``update``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Resource:
    key: str
    id: str
    type: str
    type_key: str
    name: str
    subscription_id: str
    parent_key: str
    location: str | None
    tags: dict[str, Any]
    identity: dict[str, Any] | None
    properties: dict[str, Any]
    provisioning_state: str
    created_at: dt.datetime
    created_by: str
    modified_at: dt.datetime
    modified_by: str
    version: int
