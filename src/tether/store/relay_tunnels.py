"""Which replica holds each connected cluster's tunnel (``relay_tunnels``), so the others can forward to it.

A row is written when a replica admits an agent (``hold``, an upsert: the newest holder wins), kept alive
while the tunnel lives (``renew``), and removed by its holder when the tunnel ends (``release``, which
never removes a row another replica has written since). A replica that dies leaves rows that lapse at
``expires_at``; ``sweep`` removes lapsed rows and says which clusters lost their last tunnel. Hazard: the
holder's clock sets ``expires_at`` and every replica's clock judges it; keep clocks in sync (NTP).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tether.store.tables import RelayTunnelRow


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def hold(session: AsyncSession, *, cluster_key: str, holder: str, url: str, ttl: dt.timedelta) -> None:
    """Record ``holder`` (reachable at ``url``) as the replica with the cluster's tunnel, replacing any other."""
    values = {"cluster_key": cluster_key, "holder": holder, "url": url, "expires_at": _now() + ttl}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(RelayTunnelRow).values(**values)
    changed = {k: statement.excluded[k] for k in ("holder", "url", "expires_at")}
    await session.execute(statement.on_conflict_do_update(index_elements=["cluster_key"], set_=changed))


async def renew(session: AsyncSession, *, holder: str, cluster_keys: list[str], url: str, ttl: dt.timedelta) -> None:
    """Push the expiry of ``holder``'s rows forward; re-record any of ``cluster_keys`` whose row went missing."""
    await session.execute(update(RelayTunnelRow).where(RelayTunnelRow.holder == holder).values(expires_at=_now() + ttl))
    held = set((await session.scalars(select(RelayTunnelRow.cluster_key).where(RelayTunnelRow.holder == holder))).all())
    for key in cluster_keys:
        if key not in held:
            existing = await session.get(RelayTunnelRow, key)
            if existing is None or existing.expires_at <= _now():  # another replica's live row wins
                await hold(session, cluster_key=key, holder=holder, url=url, ttl=ttl)


async def release(session: AsyncSession, *, cluster_key: str, holder: str) -> bool:
    """Remove ``holder``'s row for the cluster; True if another replica holds a live tunnel to it now."""
    await session.execute(
        delete(RelayTunnelRow).where(RelayTunnelRow.cluster_key == cluster_key, RelayTunnelRow.holder == holder)
    )
    return await locate(session, cluster_key) is not None


async def locate(session: AsyncSession, cluster_key: str) -> tuple[str, str] | None:
    """(holder, url) of the replica holding the cluster's tunnel, or None when no live row says so."""
    row = await session.get(RelayTunnelRow, cluster_key, populate_existing=True)
    if row is None or row.expires_at <= _now():
        return None
    return row.holder, row.url


async def sweep(session: AsyncSession) -> set[str]:
    """Remove lapsed rows; the cluster keys they named (their holders died without releasing them)."""
    now = _now()
    lapsed = set(
        (await session.scalars(select(RelayTunnelRow.cluster_key).where(RelayTunnelRow.expires_at <= now))).all()
    )
    if lapsed:  # only then a write: a server on a read-only store still starts and serves reads
        await session.execute(
            delete(RelayTunnelRow).where(RelayTunnelRow.cluster_key.in_(lapsed), RelayTunnelRow.expires_at <= now)
        )
    return lapsed


async def live_clusters(session: AsyncSession) -> set[str]:
    """Cluster keys with a live tunnel on some replica."""
    query = select(RelayTunnelRow.cluster_key).where(RelayTunnelRow.expires_at > _now())
    return set((await session.scalars(query)).all())
