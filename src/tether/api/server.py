"""``tether server``: TLS material, store, bootstrap, and uvicorn on its sockets (API, blob, replicas).

HTTPS always: azure-core refuses bearer tokens over plain HTTP. On first start a CA and a serving
certificate are generated into the data directory; clients trust ``DIR/ca.pem``.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from cryptography import x509
from starlette.types import ASGIApp, Receive, Scope, Send

from tether import datadir, pki
from tether.api.app import build_services, create_app
from tether.errors import StartupError
from tether.identity.bootstrap import Bootstrap, ensure_bootstrap
from tether.relay.replica_endpoint import replica_endpoint
from tether.relay.replicas import CREDENTIAL_PURPOSE
from tether.settings import Settings
from tether.storage.gateway import create_blob_app
from tether.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def ensure_tls(data_dir: Path, *, host: str, blob_virtual_hosts: str) -> TlsFiles:
    """The CA and serving certificate in ``data_dir``, created on first start (covering host and loopback, and
    ``*`` + ``blob_virtual_hosts``, e.g. ``*.blob.core.tether.localhost``, for virtual-host-style blob URLs)."""
    files = TlsFiles(data_dir / "ca.pem", data_dir / "server.pem", data_dir / "server-key.pem")
    if files.ca.exists() and files.cert.exists() and files.key.exists():
        _warn_without_virtual_hosts(files.cert, "*" + blob_virtual_hosts)
        return files
    ca = pki.create_ca("Tether local CA")
    ips, names = {"127.0.0.1", "::1"}, {"localhost", "*" + blob_virtual_hosts}
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


def _warn_without_virtual_hosts(cert: Path, wildcard: str) -> None:
    """A data dir made before virtual-host blob URLs has a certificate without ``*.blob.<suffix>``: say so
    (the certificate is never replaced silently, it may be the operator's own)."""
    try:
        names = (
            pki.KeyPair(cert.read_bytes(), b"")
            .certificate()
            .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        )
        covered = wildcard in names.value.get_values_for_type(x509.DNSName)
    except (OSError, ValueError, x509.ExtensionNotFound):
        return  # check_tls reports a certificate that cannot be read
    if not covered:
        log.warning(
            "The serving certificate %s does not cover %s: virtual-host blob URLs (what azure-ai-ml uses for "
            "datastores) will fail TLS verification. Issue one that adds this name with the CA in the data "
            "directory, or move ca.pem, server.pem and server-key.pem away to have new ones made (clients "
            "must then trust the new ca.pem).",
            cert,
            wildcard,
        )


def check_tls(files: TlsFiles) -> None:
    """Load the serving certificate and key as uvicorn will, so a bad file fails before "serving at"."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as e:
        raise StartupError(
            f"The serving certificate {files.cert} or its key {files.key} cannot be loaded ({e}). Restore them, "
            f"or move both away (and {files.ca.name}, which clients trust) to have new ones made."
        ) from e


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # several servers behind one address: the kernel balances new connections among them
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Small request/response exchanges (relay frames, API calls) must not wait for Nagle's algorithm;
    # Linux carries the option over to accepted connections.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()  # e.g. the port is taken: do not leave the socket to the garbage collector
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class PreparedServer:
    settings: Settings
    sock: socket.socket
    blob_sock: socket.socket
    tls: TlsFiles
    public_url: str
    bootstrap: Bootstrap
    store: Store
    #: The socket other replicas forward relay calls to (decision 0018), and the URL they use for it.
    internal_sock: socket.socket
    internal_url: str

    async def close(self) -> None:
        """Release what ``prepare`` opened: the sockets and the store."""
        self.sock.close()
        self.blob_sock.close()
        self.internal_sock.close()
        await self.store.close()


async def prepare(settings: Settings) -> PreparedServer:
    """Everything before serving: data dir, TLS, socket, store (migrated), bootstrap file."""
    data_dir = settings.server.data_dir
    datadir.make_private(data_dir)
    tls = ensure_tls(data_dir, host=settings.server.host, blob_virtual_hosts=settings.storage.virtual_host_suffix())
    check_tls(tls)
    sock = bind(settings.server.host, settings.server.port, reuse_port=settings.server.reuse_port)
    port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    public_url = settings.server.public_url or f"https://{shown_host}:{port}"
    # The blob endpoint listens on a port of its own: path-style URLs (https://host:port/<account>/...)
    # put the account first, which would collide with the API's own paths on the main port.
    try:
        blob_sock = bind(settings.server.host, settings.storage.blob_port)
    except BaseException:
        sock.close()
        raise
    if settings.storage.blob_public_url is None:
        blob_url = f"https://{shown_host}:{blob_sock.getsockname()[1]}"
        settings = settings.model_copy(
            update={"storage": settings.storage.model_copy(update={"blob_public_url": blob_url})}
        )
    try:
        internal_sock = bind(settings.server.host, settings.server.internal_port)
    except BaseException:
        sock.close()
        blob_sock.close()
        raise
    internal_url = settings.server.internal_url or f"https://{shown_host}:{internal_sock.getsockname()[1]}"
    sockets = (sock, blob_sock, internal_sock)
    try:
        store = await Store.open(settings.database_url())
    except BaseException:
        for each in sockets:
            each.close()
        raise
    try:
        bootstrap = await ensure_bootstrap(store, path=data_dir / "bootstrap.json", server=public_url, ca_file=tls.ca)
    except BaseException:
        for each in sockets:
            each.close()
        await store.close()
        raise
    return PreparedServer(
        settings,
        sock,
        blob_sock,
        tls,
        public_url.rstrip("/"),
        bootstrap,
        store,
        internal_sock,
        internal_url.rstrip("/"),
    )


def by_port(
    main_app: ASGIApp,
    *,
    blob_port: int,
    blob_app: ASGIApp,
    internal_port: int | None = None,
    internal_app: ASGIApp | None = None,
) -> ASGIApp:
    """One ASGI app for every socket: requests to the blob port go to the blob endpoint, those to the internal
    port to the replicas' endpoint (and nothing else does), the rest (and lifespan events) to the main app."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        port = server[1] if server else None
        if scope["type"] == "http" and port == blob_port:
            await blob_app(scope, receive, send)
        elif scope["type"] in ("http", "websocket") and port == internal_port and internal_app is not None:
            await internal_app(scope, receive, send)
        else:
            await main_app(scope, receive, send)

    return app


def settle_heap() -> None:
    """Take what start-up built (modules, the app, its services) out of the garbage collector's reach.

    That heap lives as long as the process, and without this every full (generation 2) collection walks
    it again with the event loop stopped: 44-104 ms per collection under ``bench/load.py``'s load, each
    one a stall of every request in flight; 5-10 ms after it. Objects made later are collected as
    before. ``gc.collect`` first, so that start-up's own garbage cycles are freed, not kept for good.
    """
    gc.collect()
    gc.freeze()


async def serve(settings: Settings) -> None:
    prepared = await prepare(settings)
    settings = prepared.settings
    try:
        services = await build_services(
            settings,
            store=prepared.store,
            public_url=prepared.public_url,
            authority_ca_pem=prepared.tls.ca.read_text(),  # jobs' pods (and the other replicas) trust it
            internal_url=prepared.internal_url,
        )
        app = by_port(
            create_app(services),
            blob_port=prepared.blob_sock.getsockname()[1],
            blob_app=create_blob_app(services.blobs),
            internal_port=prepared.internal_sock.getsockname()[1],
            internal_app=replica_endpoint(services.hub, credential=services.secrets.derive(CREDENTIAL_PURPOSE)),
        )
        config = uvicorn.Config(
            app,
            ssl_certfile=str(prepared.tls.cert),
            ssl_keyfile=str(prepared.tls.key),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
            # Longer than clients keep idle connections (httpx: 5 s, uvicorn's default too): with equal
            # timeouts a client can send on a connection the server is closing, and sees it dropped.
            timeout_keep_alive=65,
        )
        settle_heap()
        log.info("Tether serving at %s (data in %s)", prepared.public_url, settings.server.data_dir)
        log.info("Blob endpoint at %s/<account>", settings.storage.blob_public_url)
        log.info("Replica endpoint (relay forwarding) at %s", prepared.internal_url)
        await uvicorn.Server(config).serve(sockets=[prepared.sock, prepared.blob_sock, prepared.internal_sock])
    finally:
        await prepared.close()
