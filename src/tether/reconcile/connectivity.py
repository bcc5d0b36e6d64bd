"""Connected clusters' side of the relay: checking agent credentials, and recording connectivity.

The relay hub calls ``authenticate`` for each agent handshake and ``on_status`` when a tunnel opens
or closes; ``connectivityStatus`` and ``lastConnectivityTime`` on the resource follow at once, and a
fresh tunnel is queued (``fresh_tunnels``) for ``TunnelProbes``, which probes the cluster through it
(version, node count, issuer) without holding any transaction. The queue is what lets the server be
wired in one pass: cluster access needs the hub, the hub needs this recorder, and the probes need
cluster access.

With several replicas, ``on_status`` also records which replica holds the tunnel and its internal URL
(``store.relay_tunnels``; ``locate`` reads it for forwarding, decision 0018), and a tunnel that ends here
leaves the cluster ``Connected`` if its agent has meanwhile reached another replica. ``start`` runs a loop
that keeps this replica's records alive and, on every replica, turns clusters whose holder died without
a word (its records lapsed) ``Offline``: a lost replica's clusters read ``Offline`` within
``tunnel_ttl_s`` plus a third of it, unless their agents reconnect first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable

from tether.domain import resource_types as rt
from tether.domain.models.clusters import ConnectedClusterRecord, ConnectivityStatus, OidcIssuerProfile
from tether.errors import Conflict, TetherError
from tether.identity.secret_checks import SecretChecks
from tether.kube.access import ClusterAccess
from tether.kube.probe import cluster_ca, probe
from tether.providers.envelope import rfc3339
from tether.store import Store, cluster_secrets, federated_credentials, relay_tunnels, resources, tenancy

log = logging.getLogger(__name__)


class ConnectivityRecorder:
    def __init__(
        self,
        store: Store,
        *,
        secret_checks: SecretChecks,
        internal_url: str | None = None,
        tunnel_ttl_s: float = 15.0,
    ) -> None:
        self._store = store
        self._secret_checks = secret_checks
        #: Clusters whose tunnel just opened here, for ``TunnelProbes``.
        self.fresh_tunnels: asyncio.Queue[str] = asyncio.Queue()
        #: This replica in ``relay_tunnels``: unique per process, so a restarted server never renews a
        #: predecessor's records (they lapse, and its clusters go Offline unless their agents return).
        self.holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._internal_url = internal_url or ""
        self._ttl = dt.timedelta(seconds=tunnel_ttl_s)
        self._keeper: asyncio.Task[None] | None = None

    async def reset(self) -> None:
        """``Offline`` for every cluster no replica holds a live tunnel to (at startup, and then periodically)."""
        async with self._store.transaction() as session:
            await relay_tunnels.sweep(session)
            live = await relay_tunnels.live_clusters(session)
            rows = await resources.list_all_of_type(session, rt.CONNECTED_CLUSTERS)
            stale = [
                r.key
                for r in rows
                if r.key not in live and resources.read_properties(r, ConnectedClusterRecord).connected
            ]
        for key in stale:  # each locked and checked again alone: an agent may have connected meanwhile
            async with self._store.transaction() as session:
                row = await resources.get_by_key(session, key, for_update=True)
                if row is None:
                    continue
                record = resources.read_properties(row, ConnectedClusterRecord)
                if record.connected and await relay_tunnels.locate(session, key) is None:
                    offline = record.model_copy(update={"connectivity_status": ConnectivityStatus.OFFLINE})
                    await resources.update(session, row, properties=offline)

    def start(self, held: Callable[[], list[str]]) -> None:
        """Keep the records of the tunnels ``held()`` names alive, and sweep lapsed ones, until ``close``."""
        self._keeper = asyncio.create_task(self._keep(held), name="relay tunnel records")

    async def _keep(self, held: Callable[[], list[str]]) -> None:
        while True:
            await asyncio.sleep(self._ttl.total_seconds() / 3)
            try:
                async with self._store.transaction() as session:
                    keys = [k.lower() for k in held()]
                    await relay_tunnels.renew(
                        session, holder=self.holder, cluster_keys=keys, url=self._internal_url, ttl=self._ttl
                    )
                await self.reset()
            except TetherError as e:  # the store is down: try again next round (records lapse meanwhile)
                log.warning("could not renew this replica's relay tunnel records: %s", e)

    async def locate(self, cluster_key: str) -> str | None:
        """The internal URL of the replica holding the cluster's tunnel (None: none holds one, or it has none)."""
        async with self._store.transaction() as session:
            found = await relay_tunnels.locate(session, cluster_key.lower())
        return (found[1] or None) if found is not None else None

    async def authenticate(self, cluster_key: str, credential: str) -> bool:
        """An agent's handshake: its credential checked off the loop and throttled per cluster
        (``SecretChecks``; an unknown cluster costs the same check); ``Throttled`` past the limit."""
        key = cluster_key.lower()
        async with self._store.transaction() as session:
            row = await resources.get_by_key(session, key)
            stored = await cluster_secrets.get(session, resource_key=key, kind=cluster_secrets.AGENT_CREDENTIAL)
        known = row is not None and row.type == rt.CONNECTED_CLUSTERS and stored is not None
        hashes = [stored] if known and stored is not None else []
        return await self._secret_checks.verify(credential, hashes, client=key)

    async def on_status(self, cluster_key: str, connected: bool) -> None:
        now = rfc3339(dt.datetime.now(dt.UTC))
        key = cluster_key.lower()
        async with self._store.transaction() as session:
            if connected:
                await relay_tunnels.hold(
                    session, cluster_key=key, holder=self.holder, url=self._internal_url, ttl=self._ttl
                )
            elif await relay_tunnels.release(session, cluster_key=key, holder=self.holder):
                return  # its agent reached another replica meanwhile: still Connected, there
            row = await resources.get_by_key(session, key, for_update=True)
            if row is None:
                return
            status = ConnectivityStatus.CONNECTED if connected else ConnectivityStatus.OFFLINE
            update = {"connectivity_status": status, "last_connectivity_time": now}
            changed = resources.read_properties(row, ConnectedClusterRecord).model_copy(update=update)
            await resources.update(session, row, properties=changed)
        if connected:
            self.fresh_tunnels.put_nowait(key)

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)


class TunnelProbes:
    """Probes each cluster whose tunnel just opened (``ConnectivityRecorder.fresh_tunnels``) through it,
    and records what it found: version, node counts, and the service-account issuer to trust."""

    def __init__(self, store: Store, *, access: ClusterAccess, fresh_tunnels: asyncio.Queue[str]) -> None:
        self._store = store
        self._access = access
        self._fresh = fresh_tunnels
        self._reader: asyncio.Task[None] | None = None
        self._probes: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="tunnel probes")

    async def _read(self) -> None:
        while True:
            cluster_key = await self._fresh.get()
            task = asyncio.create_task(self._probe(cluster_key), name=f"probe {cluster_key}")
            self._probes.add(task)
            task.add_done_callback(self._probe_done)

    def _probe_done(self, task: asyncio.Task[None]) -> None:
        self._probes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("probe through the tunnel crashed (%s)", task.get_name(), exc_info=task.exception())

    async def _probe(self, cluster_key: str) -> None:
        try:
            async with self._access.connect(cluster_key, connected=True) as connection:
                facts = await probe(connection)
                ca_pem = await cluster_ca(connection)
        except TetherError as e:
            log.warning("probe of %s through its tunnel failed: %s", cluster_key, e)
            return
        async with self._store.transaction() as session:
            row = await resources.get_by_key(session, cluster_key, for_update=True)
            if row is not None:
                update = {
                    "kubernetes_version": facts.kubernetes_version,
                    "total_node_count": facts.node_count,
                    "gpu_node_count": facts.gpu_node_count,
                    "agent_version": "tether-connect/1",
                    "oidc_issuer_profile": OidcIssuerProfile(enabled=facts.issuer is not None, issuer_url=facts.issuer),
                }
                changed = resources.read_properties(row, ConnectedClusterRecord).model_copy(update=update)
                row = await resources.update(session, row, properties=changed)
                subscription = await tenancy.get_subscription(session, row.subscription_id)
                if facts.issuer and ca_pem and subscription is not None:
                    # Workload identity: the token service fetches this issuer's keys over TLS it must trust.
                    try:
                        await federated_credentials.trust_issuer(
                            session, tenant_id=subscription.tenant_id, issuer=facts.issuer, ca_pem=ca_pem, source=row.id
                        )
                    except Conflict as e:  # another cluster's issuer: its trust stays as it was
                        log.warning("cluster %s names an issuer it may not register: %s", row.id, e.message)

    async def close(self) -> None:
        tasks = [*self._probes, *([self._reader] if self._reader is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
