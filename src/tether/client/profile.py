"""The login profile: where the server is and which principal to act as, stored under the config dir.

``$TETHER_CONFIG_DIR`` (default ``~/.tether``) holds ``profile.json`` with mode 0600, since it keeps
the client secret, as az keeps its own credentials cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel

from tether.client.errors import NotLoggedIn


class Profile(BaseModel):
    server: str
    ca_file: str | None
    tenant_id: str
    subscription_id: str
    client_id: str
    client_secret: str


def profile_path(config_dir: Path) -> Path:
    return config_dir / "profile.json"


def load_profile(config_dir: Path) -> Profile:
    path = profile_path(config_dir)
    if not path.exists():
        raise NotLoggedIn(
            f"Not logged in (no {path}). Run: tether login --bootstrap <server data dir>", code="NotLoggedIn"
        )
    return Profile.model_validate_json(path.read_text())


def save_profile(config_dir: Path, profile: Profile) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = profile_path(config_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(profile.model_dump_json(indent=2))
    os.chmod(path, 0o600)
    return path


def profile_from_bootstrap(data_dir: Path) -> Profile:
    """A profile for the admin principal from a server's ``bootstrap.json``."""
    path = data_dir / "bootstrap.json"
    if not path.exists():
        raise NotLoggedIn(f"{path} does not exist; start the server with: tether server --data-dir {data_dir}")
    raw = json.loads(path.read_text())
    return Profile(
        server=raw["server"],
        ca_file=raw["ca_file"],
        tenant_id=raw["tenant_id"],
        subscription_id=raw["subscription_id"],
        client_id=raw["client_id"],
        client_secret=raw["client_secret"],
    )
