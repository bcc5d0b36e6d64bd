"""Blob throughput and latency: through Tether's blob endpoint vs Azurite directly, in the same run.

A ``tether server`` process serves storage account ``benchacct``; its blob requests carry a bearer
token (the bootstrap admin, granted Storage Blob Data Contributor) and are decided and forwarded to
the account's Azurite. For "Azurite directly" the bench starts another Azurite process of the same
version and talks to it with the account key over plain HTTP (Tether's endpoint adds TLS). The
unmodified azure-storage-blob SDK is the client in both cases, with the same options.

Prints: upload and download MB/s of one SIZE_MB blob (goal: Tether >= 0.8x Azurite), and p50/p99 of
a small-blob GET (goal: Tether <= 1.5x Azurite). The client shares the 2 cores with the servers.

    .venv/bin/python bench/blob.py [--size-mb 256] [--small-gets 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path

import httpx
from azure.core.credentials import AccessToken
from azure.storage.blob import BlobServiceClient

sys.path.insert(0, str(Path(__file__).parent))
from _common import percentile
from tether.crypto import new_storage_key
from tether.server_process import ServerProcess
from tether.storage.azurite import AccountKeys, AzuritePool
from tether.testing.blob_endpoint import ensure_azurite

API = {"api-version": "2023-05-01"}
CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
OPTIONS = {"max_single_put_size": 8 * 1024 * 1024, "max_block_size": 8 * 1024 * 1024}


class StaticToken:
    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *_scopes: str, **_: object) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3000)


def tether_account(server: ServerProcess) -> tuple[str, str]:
    """Create the account and the grant; return its blob endpoint and a storage token."""
    b = server.bootstrap
    with httpx.Client(verify=ssl.create_default_context(cafile=server.ca_file), timeout=60) as http:

        def token(audience: str) -> str:
            response = http.post(
                f"{server.url}/{b['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": b["client_id"],
                    "client_secret": b["client_secret"],
                    "scope": f"{audience}/.default",
                },
            )
            response.raise_for_status()
            return str(response.json()["access_token"])

        auth = {"Authorization": f"Bearer {token(server.url)}"}
        rg = f"{server.url}/subscriptions/{b['subscription_id']}/resourceGroups/bench"
        http.put(rg, params=API, json={"location": "local"}, headers=auth).raise_for_status()
        account = f"{rg}/providers/Microsoft.Storage/storageAccounts/benchacct"
        created = http.put(account, params=API, json={}, headers=auth)
        created.raise_for_status()
        grant = f"{account}/providers/Microsoft.Authorization/roleAssignments/{'1' * 8}-1111-1111-1111-{'1' * 12}"
        body = {
            "properties": {
                "roleDefinitionId": f"/subscriptions/{b['subscription_id']}/providers/Microsoft.Authorization/"
                f"roleDefinitions/{CONTRIBUTOR}",
                "principalId": b["admin_object_id"],
            }
        }
        http.put(grant, params=API, json=body, headers=auth).raise_for_status()
        return created.json()["properties"]["primaryEndpoints"]["blob"], token("https://storage.azure.com")


def measure(service: BlobServiceClient, *, label: str, payload: bytes, small_gets: int) -> dict[str, float]:
    container = service.get_container_client(f"bench{int(time.time() * 1000)}")
    container.create_container()
    blob = container.get_blob_client("big.bin")
    started = time.perf_counter()
    blob.upload_blob(payload, max_concurrency=4)
    upload_s = time.perf_counter() - started
    started = time.perf_counter()
    size = 0
    for chunk in blob.download_blob(max_concurrency=4).chunks():
        size += len(chunk)
    download_s = time.perf_counter() - started
    assert size == len(payload)
    small = container.get_blob_client("small.txt")
    small.upload_blob(b"x" * 1024)
    for _ in range(10):  # warm the connection and the token cache
        small.download_blob().readall()
    gets_ms = []
    for _ in range(small_gets):
        t0 = time.perf_counter()
        small.download_blob().readall()
        gets_ms.append((time.perf_counter() - t0) * 1000)
    mb = len(payload) / 1e6
    result = {
        "upload": mb / upload_s,
        "download": mb / download_s,
        "p50": percentile(gets_ms, 0.5),
        "p99": percentile(gets_ms, 0.99),
    }
    print(
        f"{label:<18} upload {result['upload']:7.1f} MB/s   download {result['download']:7.1f} MB/s   "
        f"small GET p50 {result['p50']:6.2f} ms  p99 {result['p99']:6.2f} ms"
    )
    return result


async def direct_azurite(state: Path) -> tuple[AzuritePool, str, AccountKeys]:
    keys = AccountKeys("directacct", new_storage_key(), new_storage_key())
    pool = AzuritePool(azurite_bin=ensure_azurite(), data_dir=state)
    return pool, await pool.url_of(keys), keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--small-gets", type=int, default=200)
    args = parser.parse_args()
    payload = os.urandom(args.size_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="tether-bench-blob-") as state:
        loop = asyncio.new_event_loop()
        pool, direct_url, keys = loop.run_until_complete(direct_azurite(Path(state) / "direct"))
        server = ServerProcess.start(Path(state) / "server")
        try:
            blob_url, token = tether_account(server)
            through = BlobServiceClient(
                blob_url, credential=StaticToken(token), connection_verify=server.ca_file, **OPTIONS
            )
            direct = BlobServiceClient(
                f"{direct_url}/{keys.name}",
                credential={"account_name": keys.name, "account_key": keys.key1},
                **OPTIONS,
            )
            print(f"blob bench: {args.size_mb} MB blob (8 MB blocks, 4 in flight), {args.small_gets} GETs of 1 KB")
            measure(through, label="warm-up (tether)", payload=payload[: 8 * 1024 * 1024], small_gets=10)
            azurite = measure(direct, label="azurite directly", payload=payload, small_gets=args.small_gets)
            tether = measure(through, label="through tether", payload=payload, small_gets=args.small_gets)
            print(
                f"ratio tether/azurite: upload {tether['upload'] / azurite['upload']:.2f}x (goal >= 0.8), "
                f"download {tether['download'] / azurite['download']:.2f}x (goal >= 0.8), "
                f"small GET p50 {tether['p50'] / azurite['p50']:.2f}x (goal <= 1.5)"
            )
        finally:
            server.stop()
            loop.run_until_complete(pool.aclose())
            loop.close()


if __name__ == "__main__":
    main()
