"""The server's long-lived parts, built once at start and reached by routes through dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from tether.authz.service import Authorizer
from tether.identity.federation import FederatedTokens
from tether.identity.keys import KeyRing
from tether.identity.tokens import TokenService
from tether.providers.registry import ProviderRegistry
from tether.reconcile.engine import ReconcilerSet
from tether.reconcile.hints import Hints
from tether.settings import Settings
from tether.store import Store


@dataclass
class Services:
    settings: Settings
    public_url: str
    store: Store
    keys: KeyRing
    tokens: TokenService
    federation: FederatedTokens
    authorizer: Authorizer
    providers: ProviderRegistry
    hints: Hints
    reconcilers: ReconcilerSet
