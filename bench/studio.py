"""Studio page-load budget: the compute list page with 200 computes vs the JSON API list of the same.

One in-process server (the ASGI app over ``httpx2.ASGITransport``, SQLite in a temp dir, no network, so
the figure is the server's own time plus the same in-process client on both sides). A workspace gets
COMPUTES Kubernetes computes written straight into the store (``Succeeded``; no cluster is needed to
list them); a user signs in to the Studio through the real login page and code flow. Then ROUNDS
rounds alternate: ``GET /studio/workspaces/.../computes`` (authorize, list, render the HTML table)
and the ARM list ``GET .../computes?api-version=...`` followed through its ``nextLink`` pages until
all COMPUTES are read. Prints p50/p99 of each and the ratio of the p50s (goal: page <= 1.5x JSON).

    .venv/bin/python bench/studio.py [--computes 200] [--rounds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path

import httpx2

from _common import Results, add_json_out, percentile, summary, verdict
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.states import ProvisioningState
from tether.store import resources
from tether.testing.server import PUBLIC_URL, InProcessServer, in_process_server

API = {"api-version": "2024-10-01"}
PASSWORD = "bench-password-1"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


async def prepare(server: InProcessServer, *, count: int) -> tuple[str, str]:
    """A workspace with ``count`` computes, and a user with Owner on its group; returns the two URLs."""
    sub = server.bootstrap.subscription_id
    group = f"/subscriptions/{sub}/resourceGroups/bench"
    workspace = f"{group}/providers/Microsoft.MachineLearningServices/workspaces/bench-ws"
    async with server.client() as admin:
        (await admin.put(group, params=API, json={"location": "westeurope"})).raise_for_status()
        created = await admin.put(workspace, params=API, json={})
        if created.status_code != 201:
            raise RuntimeError(f"workspace: {created.status_code} {created.text}")
        for _ in range(600):  # the workspace's operation finishes in the background
            if (await admin.get(workspace, params=API)).json()["properties"]["provisioningState"] == "Succeeded":
                break
            await asyncio.sleep(0.05)
        body = {
            "displayName": "Bench",
            "userPrincipalName": "bench@tether.test",
            "passwordProfile": {"password": PASSWORD},
        }
        user = (await admin.post("/v1.0/users", json=body)).json()
        assignment = f"{group}/providers/Microsoft.Authorization/roleAssignments/0b1f5b7e-4c41-4d5a-9d43-5c6f1b7a0e11"
        definition = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"
        grant = {"properties": {"roleDefinitionId": definition, "principalId": user["id"]}}
        (await admin.put(assignment, params=API, json=grant)).raise_for_status()
    cluster = f"{group}/providers/Microsoft.ContainerService/managedClusters/c1"
    async with server.services.store.transaction() as session:
        for index in range(count):
            compute_id = ResourceId.resource(sub, "bench", rt.COMPUTES, "bench-ws", f"compute-{index:03d}")
            await resources.insert(
                session,
                compute_id,
                location="westeurope",
                tags={},
                identity={"type": "SystemAssigned", "principalId": f"00000000-0000-0000-0000-{index:012d}"},
                properties={"resourceId": cluster, "properties": {"namespace": f"team-{index}"}},
                state=ProvisioningState.SUCCEEDED,
                principal_id=user["id"],
            )
    return f"/studio/workspaces/{sub}/bench/bench-ws/computes", f"{workspace}/computes"


async def signed_in_browser(server: InProcessServer) -> httpx2.AsyncClient:
    browser = httpx2.AsyncClient(transport=server.transport, base_url=PUBLIC_URL, follow_redirects=True)
    login = await browser.get("/studio/workspaces")
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', login.text))
    landed = await browser.post(str(login.url), data={**form, "username": "bench@tether.test", "password": PASSWORD})
    if not str(landed.url).endswith("/studio/workspaces"):
        raise RuntimeError(f"sign-in failed: {landed.status_code} {landed.text[:300]}")
    return browser


async def main(*, count: int, rounds: int, json_out: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="tether-bench-studio-") as tmp:
        async with in_process_server(Path(tmp) / "server") as server:
            page_url, api_url = await prepare(server, count=count)
            browser = await signed_in_browser(server)
            api = server.client()
            page_ms: list[float] = []
            json_ms: list[float] = []
            for round_index in range(rounds + 3):  # the first 3 warm up
                started = time.perf_counter()
                page = await browser.get(page_url)
                elapsed_page = (time.perf_counter() - started) * 1000
                if page.status_code != 200 or page.text.count("<tr>") != count + 1:
                    raise RuntimeError(f"the page answered {page.status_code} with {page.text.count('<tr>')} rows")
                started = time.perf_counter()
                url: str = api_url
                params: dict[str, str] | None = API
                items = 0
                while url:
                    answer = (await api.get(url, params=params)).json()
                    if "value" not in answer:
                        raise RuntimeError(f"the JSON list answered {answer}")
                    items += len(answer["value"])
                    url, params = answer.get("nextLink") or "", None  # nextLink carries its own query
                elapsed_json = (time.perf_counter() - started) * 1000
                if items != count:
                    raise RuntimeError(f"the JSON list gave {items} computes, not {count}")
                if round_index >= 3:
                    page_ms.append(elapsed_page)
                    json_ms.append(elapsed_json)
            await browser.aclose()
            await api.aclose()
    print(f"compute list with {count} computes, {rounds} rounds, in process (no network)")
    print(summary("Studio page (HTML)", page_ms))
    print(summary(f"JSON API list (all pages, {count} items)", json_ms))
    ratio = percentile(page_ms, 0.5) / percentile(json_ms, 0.5)
    print(f"page / JSON p50 ratio: {ratio:.2f}x (goal <= 1.5x): {verdict(ratio, 1.5)}")
    results = Results("studio", json_out)
    results.add(f"Studio compute list page, {count} computes, p50", percentile(page_ms, 0.5), "ms", samples=page_ms)
    results.add(f"JSON API list, {count} computes, p50", percentile(json_ms, 0.5), "ms", samples=json_ms)
    results.add("Studio page / JSON list, p50", ratio, "x", goal=1.5)
    results.save()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--computes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=60)
    add_json_out(parser)
    arguments = parser.parse_args()
    asyncio.run(main(count=arguments.computes, rounds=arguments.rounds, json_out=arguments.json_out))
