"""Authorization decision latency against the number of role assignments in the store.

One principal holds a handful of assignments (Reader on the subscription, Contributor on a group,
Owner on a workspace, AcrPull on a registry, Storage Blob Data Reader on a storage account); the
store around it grows to 10, 1,000 and 100,000 assignments, the rest belonging to other principals
at assorted scopes (subscription, groups, workspaces, computes, registries, storage accounts). At
each size ``Authorizer.decide`` is timed over a fixed mix of allowed and denied decisions, two ways:

- warm: the authorizer's in-memory per-principal index is loaded (the normal path);
- cold: the principal's index entry is invalidated before each decision, so the decision includes
  the store query that reloads it.

All sizes run in one process on one real SQLite store (WAL) in a temporary directory. Every decision
is checked against its expected answer. GC is paused while timing, as ``timeit`` does. Prints p50 and
p99 in microseconds per size and mode, and p99(100k)/p99(10) per mode. Goal: a flat curve, and a
warm p99 under 1 ms at 100,000 assignments.

    .venv/bin/python bench/authz.py [--warm 20000] [--cold 2000]
"""

from __future__ import annotations

import argparse
import asyncio
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

SIZES = (10, 1_000, 100_000)
SUB = "3f1e2d4c-5b6a-4978-8877-665544332211"
GROUPS = 500  # assorted scopes for the other principals' assignments live in this many groups
CHUNK = 10_000
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


def others(count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Assignments of other principals, five each, every one at a different kind of scope (so a
    principal never holds the same role twice at one scope)."""
    principal = ""
    for i in range(count):
        kind = i % 5
        if kind == 0:
            principal = str(uuid.UUID(int=rng.getrandbits(128), version=4))
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
            total += await role_assignments.bulk_create(session, chunk)


# --- measuring ----------------------------------------------------------------------------------


def percentile(sorted_ns: list[int], p: float) -> float:
    """Nearest-rank percentile, in microseconds."""
    index = max(0, min(len(sorted_ns) - 1, round(p / 100 * len(sorted_ns) + 0.5) - 1))
    return sorted_ns[index] / 1000


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
    args = parser.parse_args()
    rng = random.Random(SEED)
    started = time.perf_counter()
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}; "
        f"{args.warm} warm and {args.cold} cold decisions per size over {len(QUERIES)} queries"
    )
    results: dict[int, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="tether-bench-authz-") as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            stored = await insert(store, iter([row(scope, role, PRINCIPAL) for scope, role in ITS_ASSIGNMENTS]))
            authorizer = Authorizer(store, ttl_s=3600)  # warm entries must not expire mid-run
            other_rows = others(SIZES[-1], rng)
            for size in SIZES:
                t0 = time.perf_counter()
                added = await insert(store, (r for _, r in zip(range(size - stored), other_rows, strict=False)))
                stored += added
                assert stored == size, (stored, size)
                load_s = time.perf_counter() - t0
                authorizer.index.invalidate()
                held = await authorizer.index.of(PRINCIPAL)
                assert len(held) == len(ITS_ASSIGNMENTS), held
                await measure(authorizer, 2_000, cold=False)  # warm up the code paths
                await measure(authorizer, 100, cold=True)
                warm = await measure(authorizer, args.warm, cold=False)
                cold = await measure(authorizer, args.cold, cold=True)
                results[size] = {
                    "warm": (percentile(warm, 50), percentile(warm, 99)),
                    "cold": (percentile(cold, 50), percentile(cold, 99)),
                }
                print(f"  {size:>7,} assignments (+{added:,} inserted in {load_s:.1f} s) measured")
        finally:
            await store.close()

    print()
    print(f"{'assignments':>11}  {'warm p50 µs':>11}  {'warm p99 µs':>11}  {'cold p50 µs':>11}  {'cold p99 µs':>11}")
    for size, r in results.items():
        print(
            f"{size:>11,}  {r['warm'][0]:>11.1f}  {r['warm'][1]:>11.1f}  {r['cold'][0]:>11.1f}  {r['cold'][1]:>11.1f}"
        )
    small, large = results[SIZES[0]], results[SIZES[-1]]
    print()
    for mode in ("warm", "cold"):
        ratio = large[mode][1] / small[mode][1]
        print(f"p99({SIZES[-1]:,}) / p99({SIZES[0]:,}) {mode}: {ratio:.2f}x")
    warm_p99 = large["warm"][1]
    verdict = "PASS" if warm_p99 < 1000 else "FAIL"
    print(f"goal: warm p99 at {SIZES[-1]:,} assignments < 1000 µs: {warm_p99:.1f} µs {verdict}")
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
