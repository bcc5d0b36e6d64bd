"""Image pulls through Tether's token flow vs the same registry with auth off, and tokens issued per second.

A ``tether server`` process serves registry ``benchregistry``; a SIZE_MB image (one incompressible
layer) is pushed to it through the token flow as the bootstrap admin (Owner, so push and pull). The
floor is another process of the same Distribution binary and version, with auth off, serving HTTPS
with the server's own certificate (as the registry's own process does on its login server), holding
the same image. The client is skopeo (``copy docker://... oci:DIR``, a fresh directory each time), run
alternately against both sides: through Tether it is challenged, fetches a token from the realm
(Tether's ``/oauth2/token``, with the refresh token of ``tether acr login``) and sends it with each
request, which the registry process checks; against the floor it sends none.
Prints the best pull time per side and their ratio (goal: Tether <= 1.1x), then issues
``--tokens`` access tokens (16 in flight, each one a role decision) and prints tokens/s.
The client shares the 2 cores with the servers.

    .venv/bin/python bench/registry.py [--size-mb 50] [--rounds 3] [--tokens 1000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).parent))
from _common import Results, add_json_out, verdict
from tether.client.registries import write_docker_config
from tether.registry.distribution import DistributionPool
from tether.server_process import ServerProcess
from tether.testing.oci_push import artifact, push
from tether.testing.registry import ensure_registry_tools

API = {"api-version": "2023-07-01"}


def create_registry(server: ServerProcess, http: httpx2.Client) -> tuple[str, str]:
    """The registry's login server and the admin's registry refresh token."""
    b = server.bootstrap
    token = http.post(
        f"{server.url}/{b['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": b["client_id"],
            "client_secret": b["client_secret"],
            "scope": f"{server.url}/.default",
        },
    )
    token.raise_for_status()
    access = token.json()["access_token"]
    auth = {"Authorization": f"Bearer {access}"}
    rg = f"{server.url}/subscriptions/{b['subscription_id']}/resourceGroups/bench"
    http.put(rg, params=API, json={"location": "local"}, headers=auth).raise_for_status()
    created = http.put(
        f"{rg}/providers/Microsoft.ContainerRegistry/registries/benchregistry", params=API, json={}, headers=auth
    )
    created.raise_for_status()
    login = created.json()["properties"]["loginServer"]
    exchanged = http.post(
        f"{server.url}/oauth2/exchange",
        data={"grant_type": "access_token", "service": login, "access_token": access},
    )
    exchanged.raise_for_status()
    return login, exchanged.json()["refresh_token"]


async def push_image(base: str, *, ca: str, size_mb: int, token: str) -> None:
    item = artifact(os.urandom(size_mb * 1024 * 1024))
    host = base.split("://", 1)[-1]
    async with httpx2.AsyncClient(verify=ssl.create_default_context(cafile=ca), timeout=300) as http:
        status = await push(http, host, "bench/image", "v1", item, token=token)
    if status != 201:
        raise SystemExit(f"pushing the bench image to {host} answered {status}")


async def access_token(tether: str, login: str, *, ca: str, refresh: str, scope: str) -> str:
    async with httpx2.AsyncClient(verify=ssl.create_default_context(cafile=ca), timeout=60) as http:
        answer = await http.post(
            f"{tether}/oauth2/token",
            data={"grant_type": "refresh_token", "service": login, "scope": scope, "refresh_token": refresh},
        )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def pull_seconds(reference: str, *, scratch: Path, certs: Path, auth_file: Path | None) -> float:
    target = scratch / "pulled"
    shutil.rmtree(target, ignore_errors=True)
    credentials = ["--src-authfile", str(auth_file)] if auth_file else ["--src-no-creds"]
    started = time.perf_counter()
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--src-cert-dir",
            str(certs),
            *credentials,
            f"docker://{reference}",
            f"oci:{target}",
        ],
        check=True,
    )
    return time.perf_counter() - started


async def tokens_per_second(
    tether: str, login: str, *, ca: str, refresh: str, count: int, in_flight: int = 16
) -> float:
    data = {
        "grant_type": "refresh_token",
        "service": login,
        "scope": "repository:bench/image:pull",
        "refresh_token": refresh,
    }
    limits = httpx2.Limits(max_connections=in_flight)
    async with httpx2.AsyncClient(verify=ssl.create_default_context(cafile=ca), timeout=60, limits=limits) as http:
        for _ in range(20):  # warm the connections and the role decisions' caches
            (await http.post(f"{tether}/oauth2/token", data=data)).raise_for_status()
        gate = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with gate:
                (await http.post(f"{tether}/oauth2/token", data=data)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return count / (time.perf_counter() - started)


def _times(seconds: list[float]) -> str:
    return f"best pull {min(seconds):6.2f} s   ({', '.join(f'{s:.2f}' for s in seconds)})"


def run(args: argparse.Namespace, scratch: Path, server: ServerProcess, floor: DistributionPool) -> None:
    loop = asyncio.get_event_loop()
    ca = server.ca_file
    certs = scratch / "certs"
    certs.mkdir()
    shutil.copyfile(ca, certs / "ca.crt")
    with httpx2.Client(verify=ssl.create_default_context(cafile=ca), timeout=60) as http:
        login, refresh = create_registry(server, http)
    auth_file = scratch / "auth.json"
    write_docker_config(auth_file, login, refresh)  # what `tether acr login` writes
    floor_url = loop.run_until_complete(floor.start("floor", trust=None))
    scope = "repository:bench/image:pull,push"
    push_token = loop.run_until_complete(access_token(server.url, login, ca=ca, refresh=refresh, scope=scope))
    loop.run_until_complete(push_image(f"https://{login}", ca=ca, size_mb=args.size_mb, token=push_token))
    loop.run_until_complete(push_image(floor_url, ca=ca, size_mb=args.size_mb, token=""))
    floor_host = floor_url.split("://", 1)[-1]
    print(
        f"registry bench: {args.rounds} pulls of a {args.size_mb} MB image per side with skopeo, alternating; "
        "both sides over HTTPS"
    )
    tether_s, floor_s = [], []
    for _ in range(args.rounds):
        floor_s.append(pull_seconds(f"{floor_host}/bench/image:v1", scratch=scratch, certs=certs, auth_file=None))
        tether_s.append(pull_seconds(f"{login}/bench/image:v1", scratch=scratch, certs=certs, auth_file=auth_file))
    ratio = min(tether_s) / min(floor_s)
    print(f"auth off (Distribution directly)  {_times(floor_s)}")
    print(f"through Tether's token flow       {_times(tether_s)}")
    print(f"ratio tether/auth off: {ratio:.2f}x (goal <= 1.1): {verdict(ratio, 1.1)}")
    rate = loop.run_until_complete(tokens_per_second(server.url, login, ca=ca, refresh=refresh, count=args.tokens))
    print(f"tokens issued: {rate:.0f}/s ({args.tokens} requests, 16 in flight, each a role decision)")
    results = Results("registry", args.json_out)
    results.add(f"pull {args.size_mb} MB image, Tether / auth off", ratio, "x", goal=1.1)
    results.add(f"pull {args.size_mb} MB image through Tether, best", min(tether_s), "s")
    results.add(f"pull {args.size_mb} MB image auth off, best", min(floor_s), "s")
    results.add("registry tokens issued", rate, "tokens/s", better="higher")
    results.save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=1000)
    add_json_out(parser)
    args = parser.parse_args()
    ensure_registry_tools()
    with tempfile.TemporaryDirectory(prefix="tether-bench-registry-") as state:
        scratch = Path(state)
        server = ServerProcess.start(scratch / "server")
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        tls = (server.data_dir / "server.pem", server.data_dir / "server-key.pem")
        floor = DistributionPool(registry_bin=None, data_dir=scratch / "floor", tls=tls)
        try:
            run(args, scratch, server, floor)
        finally:
            server.stop()
            loop.run_until_complete(floor.aclose())
            loop.close()


if __name__ == "__main__":
    main()
