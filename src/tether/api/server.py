"""``tether server``: TLS material, store, bootstrap, and uvicorn on one socket.

HTTPS always: azure-core refuses bearer tokens over plain HTTP. On first start a CA and a serving
certificate are generated into the data directory; clients trust ``DIR/ca.pem``.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from tether import pki
from tether.api.app import build_services, create_app
from tether.identity.bootstrap import Bootstrap, ensure_bootstrap
from tether.settings import Settings
from tether.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def ensure_tls(data_dir: Path, *, host: str) -> TlsFiles:
    """The CA and serving certificate in ``data_dir``, created on first start (covering host and loopback)."""
    files = TlsFiles(data_dir / "ca.pem", data_dir / "server.pem", data_dir / "server-key.pem")
    if files.ca.exists() and files.cert.exists() and files.key.exists():
        return files
    ca = pki.create_ca("Tether local CA")
    ips, names = {"127.0.0.1", "::1"}, {"localhost"}
    try:
        ipaddress.ip_address(host)
        if host not in ("0.0.0.0", "::"):
            ips.add(host)
    except ValueError:
        names.add(host)
    serving = pki.issue_certificate(ca, "tether-server", dns_names=sorted(names), ip_addresses=sorted(ips))
    pki.write_pem(data_dir / "ca-key.pem", ca.key_pem, private=True)
    pki.write_pem(files.ca, ca.cert_pem)
    pki.write_pem(files.key, serving.key_pem, private=True)
    pki.write_pem(files.cert, serving.cert_pem)
    return files


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Small request/response exchanges (relay frames, API calls) must not wait for Nagle's algorithm;
    # Linux carries the option over to accepted connections.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class PreparedServer:
    settings: Settings
    sock: socket.socket
    tls: TlsFiles
    public_url: str
    bootstrap: Bootstrap
    store: Store


async def prepare(settings: Settings) -> PreparedServer:
    """Everything before serving: data dir, TLS, socket, store (migrated), bootstrap file."""
    data_dir = settings.server.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    tls = ensure_tls(data_dir, host=settings.server.host)
    sock = bind(settings.server.host, settings.server.port)
    port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    public_url = settings.server.public_url or f"https://{shown_host}:{port}"
    store = await Store.open(settings.database_url())
    bootstrap = await ensure_bootstrap(store, path=data_dir / "bootstrap.json", server=public_url, ca_file=tls.ca)
    return PreparedServer(settings, sock, tls, public_url.rstrip("/"), bootstrap, store)


async def serve(settings: Settings) -> None:
    prepared = await prepare(settings)
    try:
        services = await build_services(
            settings,
            store=prepared.store,
            public_url=prepared.public_url,
            authority_ca_pem=prepared.tls.ca.read_text(),  # jobs' pods trust it for the token endpoint
        )
        config = uvicorn.Config(
            create_app(services),
            ssl_certfile=str(prepared.tls.cert),
            ssl_keyfile=str(prepared.tls.key),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        log.info("Tether serving at %s (data in %s)", prepared.public_url, settings.server.data_dir)
        await uvicorn.Server(config).serve(sockets=[prepared.sock])
    finally:
        prepared.sock.close()
        await prepared.store.close()
