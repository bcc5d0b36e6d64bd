"""The one typed settings object, built at an entry point (``tether server``, tests) and passed down.

Values come from arguments, then ``TETHER_*`` environment variables (nested with ``__``, e.g.
``TETHER_TOKENS__ACCESS_TOKEN_LIFETIME_S``), then defaults. Library code never reads ``os.environ``:
it receives a ``Settings``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseModel):
    """Where the control plane listens and keeps its state."""

    data_dir: Path = Field(
        Path(".tether-data"), description="Directory for the CA, keys, SQLite file and bootstrap.json."
    )
    host: str = Field("127.0.0.1", description="Address to bind; the serving certificate covers it.")
    port: int = Field(8443, ge=0, le=65535, description="HTTPS port (0 picks a free one).")
    db_url: str | None = Field(
        None, description="SQLAlchemy async URL; default is a SQLite file (WAL) inside data_dir."
    )
    public_url: str | None = Field(
        None, description="URL clients use to reach the server; default https://<host>:<port>."
    )
    reuse_port: bool = Field(
        False,
        description="Let several servers on one machine listen on the same host and port (SO_REUSEPORT); the "
        "kernel spreads connections among them. Each must be started with this.",
    )
    internal_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="HTTPS port on which the other replicas reach this one (relay forwarding; 0 picks a free one).",
    )
    internal_url: str | None = Field(
        None,
        description="URL the other replicas reach this one's internal port at; default https://<host>:<internal port>.",
    )


class ApiSettings(BaseModel):
    """Limits of the ARM API surface."""

    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (bytes).")
    page_size: int = Field(100, ge=1, le=1000, description="Items per page in list answers before nextLink.")
    seats: int = Field(
        8,
        ge=1,
        description="Requests that run at once, per level (signed-in callers; the rest); the others wait, queued "
        "per caller and served round-robin (tether.api.admission). More: more requests interleaved on the one "
        "event loop, each one slower.",
    )
    seats_per_caller: int = Field(
        1,
        ge=1,
        description="Of those, requests one signed-in caller (a principal) runs at once; its others wait their turn, "
        "so one busy caller does not slow the rest.",
    )
    seats_per_source: int = Field(
        2,
        ge=1,
        description="Requests not signed in (sign-ins, bad tokens) that one source address runs at once; a "
        "sign-in's secret check waits for its own thread (tokens.secret_check_threads), not for a seat.",
    )
    queued_per_caller: int = Field(
        256, ge=1, description="Requests one caller may have waiting; more are answered 429 (Retry-After 1)."
    )


class TokenSettings(BaseModel):
    """The OpenID Connect issuer that signs access tokens."""

    access_token_lifetime_s: int = Field(3600, ge=60, description="Lifetime of issued access tokens.")
    clock_skew_s: int = Field(60, ge=0, description="Leeway allowed when checking exp/nbf/iat.")
    key_rotation_days: int = Field(
        30, ge=1, description="Age after which a new signing key is made; old keys stay in JWKS until unused."
    )
    secret_check_threads: int = Field(
        1,
        ge=1,
        description="Client-secret checks (scrypt, ~80 ms of CPU each) run at most this many at once, in threads; "
        "one leaves the other cores to the event loop on a small machine.",
    )
    secret_check_queue: int = Field(
        64, ge=0, description="Checks that may wait for a thread; more at once are answered 429 (Retry-After 1)."
    )
    secret_check_memory_s: float = Field(
        600,
        ge=0,
        description="How long a secret that matched is remembered (as a keyed hash, in memory only), so the same "
        "client signing in again skips scrypt; 0 checks every sign-in with scrypt.",
    )
    failed_secrets_per_client: int = Field(
        20, ge=1, description="Wrong secrets per client id (or connected cluster) per minute before 429."
    )
    failed_secrets_per_source: int = Field(
        50, ge=1, description="Wrong secrets per source address per minute before its token requests get 429."
    )
    key_refresh_s: float = Field(
        30.0,
        gt=0,
        description="How often each server reloads the signing keys from the store (with several servers: how "
        "long a key removed on one still verifies on the others).",
    )


class ReconcileSettings(BaseModel):
    """Background loops that carry long-running operations to completion."""

    idle_poll_s: float = Field(2.0, gt=0, description="How often idle reconcilers look for work without a hint.")
    lease_s: float = Field(30.0, gt=0, description="How long a reconciler owns a row before another may take it.")
    step_deadline_s: float = Field(60.0, gt=0, description="Deadline of one reconcile step (network call).")
    attach_step_deadline_s: float = Field(
        10.0, gt=0, description="Deadline of each network step of an attach (reaching the cluster, reading it)."
    )
    job_poll_interval_s: float = Field(
        1.0, gt=0, description="How often the status of unfinished jobs is read from their clusters."
    )
    read_cache_s: float = Field(
        5.0,
        ge=0,
        description="How long a cluster's stored kubeconfig and a job dispatch's cluster facts (issuer, extension "
        "settings) are reused before they are read again; a change takes that long to be noticed.",
    )
    health_interval_s: float = Field(
        5.0, gt=0, description="How often ML extensions' health is read from their operators' heartbeats."
    )


class StorageSettings(BaseModel):
    """Blob storage: Tether's blob endpoint and the Azurite processes behind it."""

    blob_port: int = Field(8444, ge=0, le=65535, description="HTTPS port of the blob endpoint (0 picks a free one).")
    blob_public_url: str | None = Field(
        None, description="URL clients use for blob endpoints; default https://<host>:<blob_port>."
    )
    dns_suffix: str = Field(
        "core.tether.localhost",
        # azure-storage-blob takes the account name from a host only when it contains ".blob.core." (as in
        # core.windows.net); without it a key credential fails with "Unable to determine account name".
        pattern=r"^core\.[a-z0-9]([a-z0-9.-]{0,200}[a-z0-9])?$",
        description="Accounts are also served virtual-host style at https://<account>.blob.<dns_suffix>:<blob port> "
        "(what azure-ai-ml builds from the cloud's storage suffix, which Tether advertises as <dns_suffix>:<port>); "
        "it starts with 'core.', as Azure's core.windows.net, which azure-storage-blob relies on. Those names must "
        "resolve to this server: a wildcard DNS record *.blob.<dns_suffix>, or /etc/hosts lines.",
    )
    azurite_bin: Path | None = Field(
        None,
        description="Azurite's azurite-blob entry point; default the pinned install of tools/azurite/install.sh "
        "in ~/.cache/tether/azurite. Without it, storage accounts exist but their blob requests answer 503.",
    )

    def cloud_storage_suffix(self) -> str:
        """The cloud metadata's ``suffixes.storage``: clients build ``https://<account>.blob.<this>``."""
        port = urlsplit(self.blob_public_url).port if self.blob_public_url else self.blob_port
        return self.dns_suffix if port in (None, 443) else f"{self.dns_suffix}:{port}"

    def virtual_host_suffix(self) -> str:
        """The host name ending (no port) that marks a virtual-host-style request: ``.blob.<dns_suffix>``."""
        return f".blob.{self.dns_suffix}"


class RegistrySettings(BaseModel):
    """Container registries: the CNCF Distribution binary that serves each registry's login server."""

    registry_bin: Path | None = Field(
        None,
        description="The Distribution registry binary; default Debian's /usr/bin/docker-registry "
        "(tools/registry/install.sh). Without it, creating a registry fails with RegistryUnavailable (503).",
    )


class Settings(BaseSettings):
    """All of Tether's settings, nested by concern."""

    model_config = SettingsConfigDict(env_prefix="TETHER_", env_nested_delimiter="__", extra="forbid")

    server: ServerSettings = Field(default_factory=ServerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)

    def database_url(self) -> str:
        """The store's URL: the explicit one, or the SQLite file in the data directory."""
        if self.server.db_url:
            return self.server.db_url
        return f"sqlite+aiosqlite:///{(self.server.data_dir / 'tether.db').resolve()}"
