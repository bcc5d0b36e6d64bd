"""The agent's upstream: an ``httpx2`` client for its own cluster's API server, and request rewriting.

``load_upstream`` turns what the entry point has (a lightkube ``SingleConfig``, a kubeconfig path, or
``None`` for the in-cluster service account) into a ``SingleConfig``; ``upstream_client`` builds the
client with lightkube's own TLS and auth helpers (client certificates, bearer tokens, token files that
rotate, exec plugins). ``upstream_url`` and ``forwardable_headers`` decide what reaches the API server:
the tunnel's target is appended to the configured server URL (so the host can never be changed by the
control plane), hop-by-hop headers, ``Host``, ``Authorization`` and ``Content-Length`` are dropped.

Hazards: no read timeout upstream (watches and followed logs never end by themselves; the hub enforces
its callers' read timeouts and resets the stream); ``Impersonate-*`` headers pass through, so the
agent's own rights bound what the control plane can do.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable

import httpx2
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.core.exceptions import ConfigError

from tether.errors import InvalidRequest

#: What ``run_agent(upstream=...)`` accepts: a config, a kubeconfig path, or None for in-cluster.
UpstreamConfig = SingleConfig | str | os.PathLike[str] | None

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {"host", "authorization", "content-length"}


def load_upstream(upstream: UpstreamConfig, *, context: str | None = None) -> SingleConfig:
    """The API server to forward to: a config as is, a kubeconfig file's context, or the pod's account."""
    if isinstance(upstream, SingleConfig):
        return upstream
    source = "the in-cluster service account" if upstream is None else f"kubeconfig {upstream}"
    try:
        if upstream is None:
            config = KubeConfig.from_service_account().get()
        else:
            config = KubeConfig.from_file(upstream).get(context_name=context)
    except KeyError as e:
        raise InvalidRequest(f"cannot use {source}: {e} is not set; is the agent running in a pod?") from e
    except (ConfigError, OSError, ValueError) as e:
        raise InvalidRequest(f"cannot load {source}: {e}") from e
    if config is None:
        raise InvalidRequest(f"kubeconfig {upstream} has no usable context; set its current-context")
    return config


def upstream_client(config: SingleConfig, *, connect_timeout_s: float = 10.0) -> httpx2.AsyncClient:
    """A client for the API server with TLS and auth from ``config``; no read timeout, no pool cap."""
    params = ConnectionParams(timeout=httpx2.Timeout(connect_timeout_s, read=None), trust_env=False)
    if config.user is None:
        raise InvalidRequest(f"the kubeconfig context for {config.cluster.server} names no user")
    try:
        settings = params.httpx_params(config)  # loads the CA and client certificate files
    except (ConfigError, OSError, ssl.SSLError) as e:
        raise InvalidRequest(f"cannot set up TLS/auth for the API server {config.cluster.server}: {e}") from e
    return httpx2.AsyncClient(**settings, limits=httpx2.Limits(max_connections=None, max_keepalive_connections=32))


def upstream_url(client: httpx2.AsyncClient, target: str) -> httpx2.URL:
    """The configured server URL (keeping any path prefix) with the tunnel's origin-form target appended."""
    base = client.base_url
    return base.copy_with(raw_path=base.raw_path.rstrip(b"/") + target.encode("ascii"))


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def forwardable_headers(headers: Iterable[tuple[str, str]], *, request: bool) -> list[tuple[str, str]]:
    """Headers to pass on: without hop-by-hop ones (and, for requests, Host/Authorization/Content-Length)."""
    pairs = list(headers)
    dropped = (_NOT_FORWARDED if request else _HOP_BY_HOP) | _connection_tokens(pairs)
    return [(n, v) for n, v in pairs if n.lower() not in dropped]
