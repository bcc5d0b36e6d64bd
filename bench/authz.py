"""Authorization decision latency against the number of role assignments in the store, cold and warm.

One principal holds a handful of assignments (Reader on the subscription, Contributor on a group,
Owner on a workspace, AcrPull on a registry, Storage Blob Data Reader on a storage account); the
store around it grows to 10, 1,000, 100,000 and 1,000,000 assignments, the rest belonging to other
principals (five each) at assorted scopes (subscription, groups, workspaces, computes, registries,
storage accounts). The authorizer is the server's, with its production TTL (``Authorizer``'s default,
5 s). At each size ``Authorizer.decide`` is timed over a fixed mix of allowed and denied decisions:

- cold: the principal's index entry is invalidated before each decision, so each one includes the
  store query that reloads it (``role_assignments.for_principal``, by the ``principal_id`` index);
- floor: a ``SELECT 1`` transaction on the same store, interleaved with the cold decisions: the
  store's own cost of a read on this machine (under load, thread hand-offs dominate it);
- warm: the principal's entry is loaded (the in-memory lookup);
- realistic mix: after one untimed pass, for ``--mix-seconds`` (longer than the TTL, so entries
  expire), decisions for 1,000 principals round-robin (the one above and 999 others, most of whom
  hold assignments at the larger sizes); a decision whose principal's entry is missing or expired
  reads the store. Prints the share of such misses, counted as the store transactions the authorizer opened.

All sizes run in one process on one real SQLite store (WAL) in a temporary directory, filled in bulk
(``role_assignments.bulk_create``: one executemany per 10,000 rows, with a larger page cache while
loading only; the insert time is printed: about 3 minutes for the 1,000,000 on this shared machine). Every
decision of the principal under test is checked against its expected answer. GC is paused while
timing, as ``timeit`` does. Prints p50 and p99 in microseconds per size and mode, and how the cold
p99 grows with the store. Goals: cold p99 < 5 ms and warm p99 < 1 ms at 1,000,000 assignments.

    .venv/bin/python bench/authz.py [--warm 20000] [--cold 2000] [--mix-seconds 6] [--max 1000000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import platform
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from _common import Results, add_json_out
from tether.authz.service import Authorizer
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.roles import (
    ACR_PULL,
    BUILT_IN_ROLES,
    CONTRIBUTOR,
    OWNER,
    READER,
    STORAGE_BLOB_DATA_READER,
    RoleDefinition,
)
from tether.store import Store, role_assignments

SIZES = (10, 1_000, 100_000, 1_000_000)
MIX_PRINCIPALS = 1_000
GOAL_COLD_P99_US = 5_000.0
GOAL_WARM_P99_US = 1_000.0
SUB = "3f1e2d4c-5b6a-4978-8877-665544332211"
GROUPS = 500  # assorted scopes for the other principals' assignments live in this many groups
CHUNK = 10_000
LOAD_CACHE_KIB = 262_144
SEED = 20261128


def group(n: int | str) -> ResourceId:
    return ResourceId.group(SUB, f"rg{n}")


def resource(rg: int | str, full_type: str, *names: str) -> ResourceId:
    return ResourceId.resource(SUB, f"rg{rg}", full_type, *names)


# --- the principal under test ---------------------------------------------------------------------

PRINCIPAL = "0a1b2c3d-0000-4000-8000-00000000beef"
SUBSCRIPTION = ResourceId.subscription(SUB)
ITS_GROUP = group("target")
ITS_WORKSPACE = resource("owned", rt.WORKSPACES, "ws-owned")
ITS_REGISTRY = resource("shared", rt.REGISTRIES, "acr1")
ITS_STORAGE = resource("shared", rt.STORAGE_ACCOUNTS, "st1")
ITS_ASSIGNMENTS: list[tuple[ResourceId, RoleDefinition]] = [
    (SUBSCRIPTION, READER),
    (ITS_GROUP, CONTRIBUTOR),
    (ITS_WORKSPACE, OWNER),
    (ITS_REGISTRY, ACR_PULL),
    (ITS_STORAGE, STORAGE_BLOB_DATA_READER),
]


@dataclass(frozen=True)
class Query:
    action: str
    scope: ResourceId
    data: bool
    allowed: bool


BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
QUERIES = [
    Query(f"{rt.WORKSPACES}/read", resource(7, rt.WORKSPACES, "ws7"), False, True),  # Reader at the subscription
    Query(f"{rt.WORKSPACES}/write", resource(7, rt.WORKSPACES, "ws7"), False, False),
    Query(f"{rt.WORKSPACES}/write", resource("target", rt.WORKSPACES, "ws1"), False, True),  # Contributor
    Query("Microsoft.Authorization/roleAssignments/write", ITS_GROUP, False, False),  # Contributor's notActions
    Query(f"{rt.COMPUTES}/write", ITS_WORKSPACE.child("computes", "c1"), False, True),  # Owner, inherited
    Query("Microsoft.Authorization/roleAssignments/write", ITS_WORKSPACE, False, True),
    Query("Microsoft.ContainerRegistry/registries/pull/read", ITS_REGISTRY, False, True),
    Query("Microsoft.ContainerRegistry/registries/push/write", ITS_REGISTRY, False, False),
    Query(BLOB_READ, ITS_STORAGE, True, True),
    Query(BLOB_READ, resource("shared", rt.STORAGE_ACCOUNTS, "st2"), True, False),  # another account
]


def row(scope: ResourceId, role: RoleDefinition, principal: str) -> dict[str, Any]:
    name = str(uuid.uuid4())
    return {
        "assignment_id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "subscription_id": SUB,
        "scope": str(scope),
        "principal_id": principal,
        "principal_type": "ServicePrincipal",
        "role_definition_guid": role.guid,
        "created_by": PRINCIPAL,
    }


def other_principal(k: int) -> str:
    """The k-th other principal (the same ids every run, so the mix can name them before they exist)."""
    return str(uuid.UUID(int=(SEED << 64) + k, version=4))


def others(count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Assignments of other principals, five each, every one at a different kind of scope (so a
    principal never holds the same role twice at one scope)."""
    principal = ""
    for i in range(count):
        kind = i % 5
        if kind == 0:
            principal = other_principal(i // 5)
        n = rng.randrange(GROUPS)
        scope: ResourceId
        if kind == 0:
            scope = SUBSCRIPTION
        elif kind == 1:
            scope = group(n)
        elif kind == 2:
            scope = resource(n, rt.WORKSPACES, f"ws{rng.randrange(4)}")
        elif kind == 3:
            scope = resource(n, rt.WORKSPACES, f"ws{rng.randrange(4)}").child("computes", f"c{rng.randrange(8)}")
        else:
            scope = rng.choice(
                [resource(n, rt.REGISTRIES, f"acr{n}"), resource(n, rt.STORAGE_ACCOUNTS, f"st{n}"), ITS_REGISTRY]
            )
        yield row(scope, rng.choice(BUILT_IN_ROLES), principal)


async def insert(store: Store, rows: Iterator[dict[str, Any]]) -> int:
    total = 0
    while True:
        chunk = [r for _, r in zip(range(CHUNK), rows, strict=False)]
        if not chunk:
            return total
        async with store.transaction() as session:
            # A larger page cache while loading (random keys into four B-trees), SQLite's default again
            # before anything is timed, so decisions read with the server's settings.
            await session.execute(text(f"PRAGMA cache_size=-{LOAD_CACHE_KIB}"))
            total += await role_assignments.bulk_create(session, chunk)
            await session.execute(text("PRAGMA cache_size=-2000"))


def query_plan(db: Path) -> str:
    """How SQLite finds one principal's assignments (the cold path's query)."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM role_assignments WHERE principal_id = ?", (PRINCIPAL,)
        ).fetchall()
    return "; ".join(str(r[-1]) for r in rows)


# --- measuring ----------------------------------------------------------------------------------


def percentile(sorted_ns: list[int], p: float) -> float:
    """Nearest-rank percentile, in microseconds."""
    index = max(0, min(len(sorted_ns) - 1, round(p / 100 * len(sorted_ns) + 0.5) - 1))
    return sorted_ns[index] / 1000


class CountingStore:
    """The store, counting the transactions opened through it: the authorizer opens one per index miss."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.transactions = 0

    def transaction(self) -> Any:
        self.transactions += 1
        return self._store.transaction()


async def measure_mix(authorizer: Authorizer, store: CountingStore, *, seconds: float) -> tuple[list[int], float]:
    """Decisions for MIX_PRINCIPALS principals round-robin for ``seconds``; timings and the share of misses."""
    principals = [PRINCIPAL, *(other_principal(k) for k in range(MIX_PRINCIPALS - 1))]
    for principal in principals:  # one untimed pass: the steady state, where misses are expiries
        await authorizer.decide(principal, QUERIES[0].action, QUERIES[0].scope)
    timings: list[int] = []
    before = store.transactions
    gc.collect()
    gc.disable()
    try:
        deadline = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < deadline:
            principal, q = principals[i % len(principals)], QUERIES[i % len(QUERIES)]
            started = time.perf_counter_ns()
            decision = await authorizer.decide(principal, q.action, q.scope, data=q.data)
            timings.append(time.perf_counter_ns() - started)
            if principal == PRINCIPAL and decision.allowed is not q.allowed:
                raise AssertionError(f"wrong decision for {q}: {decision}")
            i += 1
    finally:
        gc.enable()
    timings.sort()
    return timings, (store.transactions - before) / len(timings)


async def measure_floor(store: Store, samples: int) -> list[int]:
    """The store's own cost of one read: a ``SELECT 1`` transaction (what no cold decision can go under)."""
    timings: list[int] = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(samples):
            started = time.perf_counter_ns()
            async with store.transaction() as session:
                await session.execute(text("SELECT 1"))
            timings.append(time.perf_counter_ns() - started)
    finally:
        gc.enable()
    timings.sort()
    return timings


async def measure(authorizer: Authorizer, samples: int, *, cold: bool) -> list[int]:
    timings: list[int] = []
    gc.collect()
    gc.disable()
    try:
        for i in range(samples):
            q = QUERIES[i % len(QUERIES)]
            if cold:
                authorizer.index.invalidate(PRINCIPAL)
            started = time.perf_counter_ns()
            decision = await authorizer.decide(PRINCIPAL, q.action, q.scope, data=q.data)
            timings.append(time.perf_counter_ns() - started)
            if decision.allowed is not q.allowed:
                raise AssertionError(f"wrong decision for {q}: {decision}")
    finally:
        gc.enable()
    timings.sort()
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", type=int, default=20_000, help="warm decisions timed per size")
    parser.add_argument("--cold", type=int, default=2_000, help="cold decisions timed per size")
    parser.add_argument("--mix-seconds", type=float, default=6.0, help="seconds of the 1,000-principal mix per size")
    parser.add_argument("--max", type=int, default=SIZES[-1], help="largest store size measured")
    add_json_out(parser)
    args = parser.parse_args()
    sizes = [size for size in SIZES if size <= args.max]
    rng = random.Random(SEED)
    started = time.perf_counter()
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}; {args.warm} warm and {args.cold} "
        f"cold decisions per size over {len(QUERIES)} queries, {args.mix_seconds:g} s of the "
        f"{MIX_PRINCIPALS:,}-principal mix; production TTL"
    )
    results: dict[int, dict[str, tuple[float, float]]] = {}
    misses: dict[int, float] = {}
    samples: dict[int, dict[str, list[float]]] = {}  # µs, for the chart
    insert_s = 0.0
    with tempfile.TemporaryDirectory(prefix="tether-bench-authz-") as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            stored = await insert(store, iter([row(scope, role, PRINCIPAL) for scope, role in ITS_ASSIGNMENTS]))
            counting = CountingStore(store)
            authorizer = Authorizer(counting)  # type: ignore[arg-type]  # the production TTL
            other_rows = others(sizes[-1], rng)
            for size in sizes:
                t0 = time.perf_counter()
                added = await insert(store, (r for _, r in zip(range(size - stored), other_rows, strict=False)))
                stored += added
                assert stored == size, (stored, size)
                load_s = time.perf_counter() - t0
                insert_s += load_s
                authorizer.index.invalidate()
                held = await authorizer.index.of(PRINCIPAL)
                assert len(held) == len(ITS_ASSIGNMENTS), held
                await measure(authorizer, 2_000, cold=False)  # warm up the code paths
                await measure(authorizer, 100, cold=True)
                cold, floor = [], []
                for _ in range(10):  # interleaved, so the machine's load hits both alike
                    cold += await measure(authorizer, args.cold // 10, cold=True)
                    floor += await measure_floor(store, args.cold // 10)
                cold.sort()
                floor.sort()
                warm = await measure(authorizer, args.warm, cold=False)
                authorizer.index.invalidate()
                mix, misses[size] = await measure_mix(authorizer, counting, seconds=args.mix_seconds)
                samples[size] = {"cold": [t / 1000 for t in cold], "floor": [t / 1000 for t in floor]}
                results[size] = {
                    "floor": (percentile(floor, 50), percentile(floor, 99)),
                    "cold": (percentile(cold, 50), percentile(cold, 99)),
                    "warm": (percentile(warm, 50), percentile(warm, 99)),
                    "mix": (percentile(mix, 50), percentile(mix, 99)),
                }
                print(f"  {size:>9,} assignments (+{added:,} inserted in {load_s:.1f} s) measured")
            print(f"the cold path's query plan at {sizes[-1]:,}: {query_plan(Path(tmp) / 'bench.db')}")
        finally:
            await store.close()
    report(results, misses, sizes, args.json_out, samples=samples[sizes[-1]])
    print(f"total {time.perf_counter() - started:.1f} s, of which {insert_s:.1f} s inserting assignments")


def report(
    results: dict[int, dict[str, tuple[float, float]]],
    misses: dict[int, float],
    sizes: list[int],
    json_out: Path | None,
    *,
    samples: dict[str, list[float]],
) -> None:
    print()
    modes = ("floor", "cold", "warm", "mix")
    header = "  ".join(f"{m + ' p' + p:>12}" for m in modes for p in ("50 µs", "99 µs"))
    print(f"{'assignments':>11}  {header}  {'mix misses':>10}")
    for size, r in results.items():
        cells = "  ".join(f"{r[m][k]:>12.1f}" for m in modes for k in (0, 1))
        print(f"{size:>11,}  {cells}  {misses[size]:>9.2%}")
    print("floor: a SELECT 1 transaction on the same store, interleaved with the cold decisions")
    print()
    small = results[sizes[0]]["cold"][1]
    growth = ", ".join(f"{size:,}: {results[size]['cold'][1] / small:.2f}x" for size in sizes)
    print(f"cold p99 relative to {sizes[0]:,} assignments: {growth}")
    largest = results[sizes[-1]]
    out = Results("authz", json_out)
    for mode, goal in (("cold", GOAL_COLD_P99_US), ("warm", GOAL_WARM_P99_US)):
        p99 = largest[mode][1]
        verdict = "met" if p99 < goal else "MISSED"
        print(f"goal: {mode} p99 at {sizes[-1]:,} assignments < {goal:.0f} µs: {p99:.1f} µs {verdict}")
        out.add(f"{mode} decision p99 at {sizes[-1]:,} assignments", p99, "µs", goal=goal, samples=samples.get(mode))
    out.add(
        f"1,000-principal mix p99 at {sizes[-1]:,} assignments",
        largest["mix"][1],
        "µs",
        note=f"{misses[sizes[-1]]:.2%} of decisions read the store",
    )
    out.add(
        f"floor: a SELECT 1 store transaction, p99 at {sizes[-1]:,} assignments",
        largest["floor"][1],
        "µs",
        note="interleaved with the cold decisions",
        samples=samples["floor"],
    )
    out.add(f"cold p99 growth, {sizes[0]:,} -> {sizes[-1]:,} assignments", largest["cold"][1] / small, "x")
    out.save()


if __name__ == "__main__":
    asyncio.run(main())
