"""Registry tokens: Tether's signer, the refresh tokens of ``/oauth2/exchange``, the access tokens of ``/oauth2/token``.

Both are ES256 JWTs signed by one key, kept sealed in ``<data dir>/registry-signer.sealed`` and
created on first start. Distribution 2.8 finds the verifying key by the JWT header's ``kid``, which
must be libtrust's fingerprint of a key in its ``rootcertbundle`` (the signer's self-signed
certificate, written next to the registries). Access tokens carry the granted ``access`` claims and
the registry's login server as audience, so a token for one registry is refused by every other.

Lifetimes: access tokens 5 minutes (a revoked role stops pulls within that), refresh tokens 3 hours
(as ACR's). Hazard: refresh tokens carry the caller (not re-read from the directory); a deleted
principal keeps its refresh token until it expires, but each access token still needs its roles.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from tether import pki
from tether.crypto import SecretBox
from tether.domain.principals import Caller, PrincipalKind
from tether.errors import Unauthenticated

ACCESS_LIFETIME = dt.timedelta(minutes=5)
REFRESH_LIFETIME = dt.timedelta(hours=3)
_REFRESH_TYPE = "refresh_token"


def libtrust_key_id(public_der: bytes) -> str:
    """libtrust's key id: base32 of the first 240 bits of SHA-256 of the DER public key, in groups of 4."""
    encoded = base64.b32encode(hashlib.sha256(public_der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclass(frozen=True)
class Grant:
    type: str
    name: str
    actions: tuple[str, ...]


class RegistrySigner:
    def __init__(self, pair: pki.KeyPair, *, issuer: str) -> None:
        self._key = pair.private_key()
        self.cert_pem = pair.cert_pem
        public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = libtrust_key_id(public_der)
        self.issuer = issuer

    @classmethod
    def load_or_create(cls, data_dir: Path, *, secrets: SecretBox, issuer: str) -> RegistrySigner:
        sealed = data_dir / "registry-signer.sealed"
        if sealed.exists():
            stored = json.loads(secrets.open(sealed.read_text()))
            pair = pki.KeyPair(stored["cert"].encode(), stored["key"].encode())
        else:
            pair = pki.create_ca("Tether registry token signer")
            text = secrets.seal(json.dumps({"cert": pair.cert_pem.decode(), "key": pair.key_pem.decode()}))
            pki.write_pem(sealed, text.encode(), private=True)
        return cls(pair, issuer=issuer)

    def write_bundle(self, path: Path) -> Path:
        """The certificate registry processes trust (``rootcertbundle``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        pki.write_pem(path, self.cert_pem)
        return path

    def _sign(self, claims: dict[str, Any], *, lifetime: dt.timedelta) -> tuple[str, int]:
        now = int(dt.datetime.now(dt.UTC).timestamp())
        expires = now + int(lifetime.total_seconds())
        body = {"iss": self.issuer, "iat": now, "nbf": now - 10, "exp": expires, "jti": str(uuid.uuid4()), **claims}
        return jwt.encode(body, self._key, algorithm="ES256", headers={"kid": self.key_id}), expires - now

    def access_token(
        self, *, subject: str, service: str, grants: list[Grant], lifetime: dt.timedelta = ACCESS_LIFETIME
    ) -> tuple[str, int]:
        """The token a registry accepts: ``access`` claims exactly as granted; (token, seconds valid)."""
        access = [{"type": g.type, "name": g.name, "actions": list(g.actions)} for g in grants]
        return self._sign({"sub": subject, "aud": service, "access": access}, lifetime=lifetime)

    def refresh_token(self, caller: Caller, *, service: str) -> str:
        claims = {
            "sub": caller.object_id,
            "aud": service,
            "grant_type": _REFRESH_TYPE,
            "tenant": caller.tenant_id,
            "appid": caller.app_id,
            "kind": caller.kind.value,
            "name": caller.display_name,
        }
        return self._sign(claims, lifetime=REFRESH_LIFETIME)[0]

    def caller_of_refresh_token(self, token: str, *, service: str) -> Caller:
        """The caller a refresh token was issued to, if it is Tether's, for this login server and unexpired."""
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES256"],
                audience=service,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise Unauthenticated(
                "The registry refresh token has expired. Log in again: tether acr login -n <registry>.",
                code="InvalidRefreshToken",
            ) from e
        except jwt.InvalidTokenError as e:
            raise Unauthenticated(
                f"The registry refresh token is not valid for {service} ({e}). Log in again: "
                "tether acr login -n <registry>.",
                code="InvalidRefreshToken",
            ) from e
        if claims.get("grant_type") != _REFRESH_TYPE:
            raise Unauthenticated("The token is not a registry refresh token.", code="InvalidRefreshToken")
        return Caller(
            tenant_id=str(claims["tenant"]),
            object_id=str(claims["sub"]),
            app_id=str(claims.get("appid", "")),
            kind=PrincipalKind(claims["kind"]),
            display_name=str(claims.get("name", "")),
        )
