"""Tenants and subscriptions: the roots every principal and resource hangs from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    display_name: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    tenant_id: str
    display_name: str
    created_at: dt.datetime
