"""A long-running operation as the rest of Tether sees it: an immutable snapshot, never the store's row.

The store hands these out (``tether.store.operations``) and takes ids back for every change, so a
reconciler cannot change an operation except through the lease-checked functions there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tether.domain.states import OperationKind, OperationStatus


@dataclass(frozen=True)
class Operation:
    id: str
    subscription_id: str
    resource_key: str
    resource_type: str
    kind: OperationKind
    status: OperationStatus
    attempts: int
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    error: dict[str, Any] | None = None
    lease_token: str | None = None
    """The token of the lease this snapshot was taken under (None: not leased by its reader)."""
