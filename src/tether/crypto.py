"""Secrets at rest: sealed when the server must use them later (the token service's signing keys, a managed
cluster's kubeconfig), hashed when it only checks them (client secrets, agent credentials).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with one key kept in the data directory
(``secrets.key``, mode 0600), created on first use. Whoever can read the data directory can read
the secrets: keep it on an encrypted disk, or set the key from a secret manager.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from tether.errors import Internal, StartupError


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._key = key

    def derive(self, purpose: str) -> str:
        """A secret for ``purpose`` that every holder of this key computes alike (HMAC-SHA256 of the purpose),
        e.g. the credential replicas present to one another; it reveals nothing of the key."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).hexdigest()

    @classmethod
    def from_key_file(cls, path: Path) -> SecretBox:
        """Load the key, creating it (0600) if the file does not exist."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        try:
            return cls(path.read_bytes().strip())
        except (OSError, ValueError) as e:
            raise StartupError(
                f"{path} is not a usable secrets key ({e}). Restore it from the backup of this data directory; "
                "without it the signing keys and kubeconfigs sealed in the store cannot be opened."
            ) from e

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as e:
            raise Internal(
                "A stored secret (a signing key or a cluster's kubeconfig) cannot be decrypted: secrets.key in the "
                "data directory is not the key it was sealed with. Restore the original secrets.key from the same "
                "backup as the database (see docs/security.md).",
                code="SecretUnreadable",
            ) from e


def new_storage_key() -> str:
    """A storage account key: 512 random bits, base64-encoded, as Azure's account keys are."""
    return base64.b64encode(os.urandom(64)).decode()


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_secret(secret: str) -> str:
    """A salted scrypt hash of a secret, for secrets that are checked but never used again."""
    salt = os.urandom(16)
    return f"scrypt${salt.hex()}${_scrypt(secret, salt)}"


def secret_matches(secret: str, stored: str) -> bool:
    scheme, salt_hex, digest = [*stored.split("$", 2), "", ""][:3]
    if scheme != "scrypt" or not salt_hex:
        return False
    return hmac.compare_digest(_scrypt(secret, bytes.fromhex(salt_hex)), digest)


def _scrypt(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT).hex()
