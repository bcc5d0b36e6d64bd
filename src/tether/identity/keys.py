"""Signing keys of the token service: an RS256 key ring kept in the store and cached in memory.

The newest key signs; every key not yet dropped verifies and is published in the JWKS, so rotating
never invalidates live tokens. A retired key is dropped once no token it signed can still be valid.

Private keys are sealed at rest (``tether.crypto.SecretBox``, the data directory's ``secrets.key``):
the store holds Fernet tokens, never a PEM private key, so a copy of the database (a backup, a
PostgreSQL dump) cannot mint tokens without that key file. Keys written in clear by older versions
are sealed in place by ``ensure_current`` at start-up.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tether.crypto import SecretBox
from tether.store import Store, signing_keys


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    created_at: dt.datetime
    retired_at: dt.datetime | None

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


def _new_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _is_clear_pem(stored: str) -> bool:
    return stored.lstrip().startswith("-----BEGIN")


def _load(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("signing keys must be RSA")
    return key


class KeyRing:
    """The in-memory view of the signing keys. ``refresh`` reloads it from the store."""

    def __init__(
        self, store: Store, *, secrets: SecretBox, rotation_age: dt.timedelta, token_lifetime: dt.timedelta
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._rotation_age = rotation_age
        self._token_lifetime = token_lifetime
        self._keys: dict[str, SigningKey] = {}

    async def refresh(self) -> None:
        async with self._store.transaction() as session:
            rows = await signing_keys.list_all(session)
        self._keys = {
            r.kid: SigningKey(r.kid, _load(self._unseal(r.private_pem)), r.created_at, r.retired_at) for r in rows
        }

    def _unseal(self, stored: str) -> str:
        return stored if _is_clear_pem(stored) else self._secrets.open(stored)

    async def _seal_clear_keys(self) -> None:
        """Seal keys an older version stored as clear PEM (once, at start-up)."""
        async with self._store.transaction() as session:
            for row in await signing_keys.list_all(session):
                if _is_clear_pem(row.private_pem):
                    row.private_pem = self._secrets.seal(row.private_pem)

    async def ensure_current(self) -> None:
        """Make a key if there is none or the newest is older than the rotation age; drop stale ones."""
        await self._seal_clear_keys()
        await self.refresh()
        now = dt.datetime.now(dt.UTC)
        active = self._active()
        if active is None or now - active.created_at > self._rotation_age:
            await self.rotate()
            return
        await self._drop_stale(now)

    async def rotate(self) -> str:
        """Start signing with a new key; the previous one keeps verifying until its tokens expire."""
        kid = uuid.uuid4().hex
        async with self._store.transaction() as session:
            for key in self._keys.values():
                if key.retired_at is None:
                    await signing_keys.retire(session, key.kid)
            await signing_keys.add(session, kid=kid, sealed_pem=self._secrets.seal(_new_private_pem()))
        await self.refresh()
        return kid

    async def _drop_stale(self, now: dt.datetime) -> None:
        stale = [k.kid for k in self._keys.values() if k.retired_at and now - k.retired_at > self._token_lifetime * 2]
        if stale:
            async with self._store.transaction() as session:
                for kid in stale:
                    await signing_keys.drop(session, kid)
            await self.refresh()

    def _active(self) -> SigningKey | None:
        live = [k for k in self._keys.values() if k.retired_at is None]
        return max(live, key=lambda k: k.created_at) if live else None

    def signing_key(self) -> SigningKey:
        key = self._active()
        if key is None:
            raise RuntimeError("KeyRing.ensure_current() was not called")
        return key

    def verification_key(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self._keys.values()]}
