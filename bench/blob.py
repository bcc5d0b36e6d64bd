"""Blob throughput and latency: through Tether's blob endpoint vs Azurite directly, in the same run.

A ``tether server`` process serves storage account ``benchacct``; its blob requests carry a bearer
token (the bootstrap admin, granted Storage Blob Data Contributor) and are decided and forwarded to
the account's Azurite. For "Azurite directly" the bench starts another Azurite process of the same
version, serving HTTPS with the server's own certificate (the TLS work Tether's endpoint does), and
talks to it with the account key (Azurite does not take Tether's tokens). The unmodified
azure-storage-blob SDK is the client in both cases, with the same options; both are warmed up first.

The sides alternate: ``--rounds`` uploads and downloads of one SIZE_MB blob each, Azurite then Tether
in every round, and the small-blob GETs one Azurite, one Tether. Prints upload and download MB/s
(best round per side; goal: Tether >= 0.8x Azurite) and p50/p99 of a 1 KB GET (goal: Tether <= 1.5x
Azurite). The client shares the 2 cores with the servers.

    .venv/bin/python bench/blob.py [--size-mb 256] [--rounds 2] [--small-gets 200] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from azure.core.credentials import AccessToken
from azure.storage.blob import BlobServiceClient

sys.path.insert(0, str(Path(__file__).parent))
from _common import Results, add_json_out, percentile, verdict
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
    with httpx2.Client(verify=ssl.create_default_context(cafile=server.ca_file), timeout=60) as http:

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


@dataclass
class Side:
    """One way to the blobs, its container, and what was measured through it."""

    label: str
    service: BlobServiceClient
    upload_mb_s: list[float] = field(default_factory=list)
    download_mb_s: list[float] = field(default_factory=list)
    gets_ms: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.container = self.service.get_container_client(f"bench{int(time.time() * 1000)}")
        self.container.create_container()
        self.small = self.container.get_blob_client("small.txt")
        self.small.upload_blob(b"x" * 1024)
        for _ in range(10):  # warm the connections (and, through Tether, the token's cache)
            self.small.download_blob().readall()

    def transfer(self, payload: bytes) -> None:
        blob = self.container.get_blob_client("big.bin")
        started = time.perf_counter()
        blob.upload_blob(payload, max_concurrency=4, overwrite=True)
        self.upload_mb_s.append(len(payload) / 1e6 / (time.perf_counter() - started))
        started = time.perf_counter()
        size = sum(len(chunk) for chunk in blob.download_blob(max_concurrency=4).chunks())
        self.download_mb_s.append(len(payload) / 1e6 / (time.perf_counter() - started))
        assert size == len(payload)

    def small_get(self) -> None:
        started = time.perf_counter()
        self.small.download_blob().readall()
        self.gets_ms.append((time.perf_counter() - started) * 1000)

    def report(self) -> None:
        print(
            f"{self.label:<18} upload {max(self.upload_mb_s):7.1f} MB/s   download {max(self.download_mb_s):7.1f} MB/s"
            f"   small GET p50 {percentile(self.gets_ms, 0.5):6.2f} ms  p99 {percentile(self.gets_ms, 0.99):6.2f} ms"
        )


async def direct_azurite(state: Path, *, tls: tuple[Path, Path]) -> tuple[AzuritePool, str, AccountKeys]:
    keys = AccountKeys("directacct", new_storage_key(), new_storage_key())
    pool = AzuritePool(azurite_bin=ensure_azurite(), data_dir=state, tls=tls)
    return pool, await pool.url_of(keys), keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--small-gets", type=int, default=200)
    add_json_out(parser)
    args = parser.parse_args()
    payload = os.urandom(args.size_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="tether-bench-blob-") as state:
        server = ServerProcess.start(Path(state) / "server")
        loop = asyncio.new_event_loop()
        tls = (server.data_dir / "server.pem", server.data_dir / "server-key.pem")
        pool, direct_url, keys = loop.run_until_complete(direct_azurite(Path(state) / "direct", tls=tls))
        try:
            blob_url, token = tether_account(server)
            azurite = Side(
                "azurite directly",
                BlobServiceClient(
                    f"{direct_url}/{keys.name}",
                    credential={"account_name": keys.name, "account_key": keys.key1},
                    connection_verify=server.ca_file,
                    **OPTIONS,
                ),
            )
            tether = Side(
                "through tether",
                BlobServiceClient(blob_url, credential=StaticToken(token), connection_verify=server.ca_file, **OPTIONS),
            )
            print(
                f"blob bench: {args.rounds} rounds of a {args.size_mb} MB blob (8 MB blocks, 4 in flight) and "
                f"{args.small_gets} GETs of 1 KB per side, alternating; both sides over HTTPS"
            )
            for _ in range(args.rounds):
                azurite.transfer(payload)
                tether.transfer(payload)
            for _ in range(args.small_gets):
                azurite.small_get()
                tether.small_get()
            azurite.report()
            tether.report()
            upload = max(tether.upload_mb_s) / max(azurite.upload_mb_s)
            download = max(tether.download_mb_s) / max(azurite.download_mb_s)
            small = percentile(tether.gets_ms, 0.5) / percentile(azurite.gets_ms, 0.5)
            print(
                f"ratio tether/azurite: upload {upload:.2f}x (goal >= 0.8): {verdict(upload, 0.8, better='higher')}, "
                f"download {download:.2f}x (goal >= 0.8): {verdict(download, 0.8, better='higher')}, "
                f"small GET p50 {small:.2f}x (goal <= 1.5): {verdict(small, 1.5)}"
            )
            results = Results("blob", args.json_out)
            results.add(f"upload {args.size_mb} MB, Tether / Azurite", upload, "x", goal=0.8, better="higher")
            results.add(f"download {args.size_mb} MB, Tether / Azurite", download, "x", goal=0.8, better="higher")
            results.add("1 KB GET p50, Tether / Azurite", small, "x", goal=1.5)
            results.add("1 KB GET through Tether, p50", percentile(tether.gets_ms, 0.5), "ms", samples=tether.gets_ms)
            results.add(
                "1 KB GET Azurite directly, p50", percentile(azurite.gets_ms, 0.5), "ms", samples=azurite.gets_ms
            )
            results.save()
        finally:
            server.stop()
            loop.run_until_complete(pool.aclose())
            loop.close()


if __name__ == "__main__":
    main()
