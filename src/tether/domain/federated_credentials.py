"""Federated identity credentials: a principal trusts tokens from ``issuer`` with ``sub`` = ``subject``
and an ``aud`` among ``audiences``.

``resource_key`` is the credential's ARM id (lower-case) when it was created as a resource; None for the
credentials Tether makes itself (job dispatch).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FederatedCredential:
    id: str
    principal_id: str
    resource_key: str | None
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]
    created_at: dt.datetime
