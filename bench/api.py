"""API throughput: authenticated ``GET workspace`` on tether server vs a bare FastAPI endpoint.

Both run as uvicorn processes with the same TLS certificate on this machine; the load generator
(httpx2, CONCURRENCY keep-alive connections) runs three ways in each of ROUNDS rounds, one after the
other, so that noise on this shared machine hits all alike:

* bare: the bare endpoint, no authentication;
* cached token: one bearer token for every request; after the first, the server finds it in its
  verified-token cache (``identity/tokens.py``) and checks no signature;
* fresh token: a token the server has never seen on every request, so each one's RS256 signature,
  expiry, audience and issuer are verified. The tokens are minted before the round: the claims of a
  token from the token endpoint plus a unique ``jti``, signed with the server's own signing key (read
  from its store, as a second server process on the same database would), so they are exactly what
  the token endpoint issues. (The endpoint itself cannot be used: it checks a client secret with
  scrypt per request, and two tokens for one caller minted in the same second are identical.)

Prints requests/s per round, the medians, and each ratio to bare (goals: cached >= 0.5, fresh >= 0.3).
The load generator shares the 2 cores with the server under test, so absolute figures are low; the
ratios are the figures to read.

    .venv/bin/python bench/api.py [--seconds 3] [--rounds 5] [--concurrency 16] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx2
import jwt

from _common import Results, add_json_out
from tether.crypto import SecretBox
from tether.identity.keys import KeyRing
from tether.server_process import ServerProcess
from tether.store import Store

API = {"api-version": "2024-10-01"}
GOAL_CACHED = 0.5
GOAL_FRESH = 0.3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def throughput(
    url: str,
    *,
    headers: Callable[[], dict[str, str] | None],
    ca: str,
    seconds: float,
    concurrency: int,
) -> float:
    """Requests/s over ``seconds`` (or until ``headers`` returns None: out of fresh tokens)."""
    context = ssl.create_default_context(cafile=ca)
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(verify=context, limits=limits) as client:
        (await client.get(url, params=API, headers=headers())).raise_for_status()  # warm up, prove it answers 200
        count = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                if (these := headers()) is None:
                    return
                response = await client.get(url, params=API, headers=these)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


def _token_and_workspace(server: ServerProcess) -> tuple[str, str]:
    """Log in as the bootstrap admin and create the workspace the benchmark reads."""
    b = server.bootstrap
    with httpx2.Client(verify=ssl.create_default_context(cafile=server.ca_file)) as http:
        token = http.post(
            f"{server.url}/{b['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": b["client_id"],
                "client_secret": b["client_secret"],
                "scope": f"{server.url}/.default",
            },
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        rg = f"{server.url}/subscriptions/{b['subscription_id']}/resourceGroups/bench"
        http.put(rg, params=API, json={"location": "local"}, headers=auth).raise_for_status()
        ws = f"{rg}/providers/Microsoft.MachineLearningServices/workspaces/bench-ws"
        http.put(ws, params=API, json={}, headers=auth).raise_for_status()
    return token, ws


async def signing_key_of(server: ServerProcess) -> tuple[str, object]:
    """The server's current signing key (kid, private key), read from its store."""
    store = await Store.open(f"sqlite+aiosqlite:///{server.data_dir / 'tether.db'}")
    try:
        secrets = SecretBox.from_key_file(server.data_dir / "secrets.key")  # signing keys are sealed with it
        ring = KeyRing(
            store, secrets=secrets, rotation_age=dt.timedelta(days=3650), token_lifetime=dt.timedelta(hours=1)
        )
        await ring.refresh()
        key = ring.signing_key()
        return key.kid, key.private_key
    finally:
        await store.close()


def fresh_tokens(template: str, *, kid: str, key: object, count: int) -> list[str]:
    """``count`` distinct tokens with ``template``'s claims (each its own ``jti``), signed as the server signs."""
    claims = jwt.decode(template, options={"verify_signature": False})
    return [
        jwt.encode({**claims, "jti": uuid.uuid4().hex}, key, algorithm="RS256", headers={"kid": kid})  # type: ignore[arg-type]
        for _ in range(count)
    ]


def _wait_until_answers(url: str, *, ca: str) -> None:
    for _ in range(100):
        try:
            httpx2.get(url, verify=ssl.create_default_context(cafile=ca)).raise_for_status()
            return
        except httpx2.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _popper(unseen: list[str]) -> Callable[[], dict[str, str] | None]:
    """Headers with the next unseen token each call; None once all are used."""

    def next_fresh() -> dict[str, str] | None:
        return {"Authorization": f"Bearer {unseen.pop()}"} if unseen else None

    return next_fresh


async def measure(
    *, bare_url: str, ws: str, token: str, signing: tuple[str, object], ca: str, args: argparse.Namespace
) -> None:
    rates: dict[str, list[float]] = {"bare": [], "cached": [], "fresh": []}
    cached = {"Authorization": f"Bearer {token}"}
    kid, key = signing
    print(f"{'round':>5}  {'bare req/s':>10}  {'cached req/s':>12}  {'fresh req/s':>11}  {'cached':>6}  {'fresh':>6}")
    for i in range(args.rounds):
        r_bare = await throughput(bare_url, headers=dict, ca=ca, seconds=args.seconds, concurrency=args.concurrency)
        r_cached = await throughput(
            ws, headers=lambda: cached, ca=ca, seconds=args.seconds, concurrency=args.concurrency
        )

        # Twice as many tokens as the cached round used: a fresh round is not faster than a cached one.
        minted = time.perf_counter()
        unseen = fresh_tokens(token, kid=kid, key=key, count=int(2 * r_cached * args.seconds) + 100)
        minted = time.perf_counter() - minted
        r_fresh = await throughput(
            ws, headers=_popper(unseen), ca=ca, seconds=args.seconds, concurrency=args.concurrency
        )
        if not unseen:
            print(f"  (round {i + 1}: every minted token was used; the fresh round ended early)")
        for name, rate in (("bare", r_bare), ("cached", r_cached), ("fresh", r_fresh)):
            rates[name].append(rate)
        print(
            f"{i + 1:>5}  {r_bare:>10.0f}  {r_cached:>12.0f}  {r_fresh:>11.0f}  "
            f"{r_cached / r_bare:>6.2f}  {r_fresh / r_bare:>6.2f}   ({minted:.1f} s to mint the tokens)"
        )
    results = Results("api", args.json_out)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, goal in (("cached", GOAL_CACHED), ("fresh", GOAL_FRESH)):
        ratios = [t / b for t, b in zip(rates[name], rates["bare"], strict=True)]
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= goal else "MISSED"
        print(
            f"{name} token: median {medians[name]:.0f} req/s vs bare {medians['bare']:.0f}; ratio median {ratio:.2f} "
            f"(rounds {min(ratios):.2f}-{max(ratios):.2f}; goal >= {goal}): {verdict}"
        )
        results.add(
            f"authenticated GET workspace, {name} token / bare endpoint",
            ratio,
            "ratio",
            goal=goal,
            better="higher",
            note=f"rounds {min(ratios):.2f}-{max(ratios):.2f}; {medians[name]:.0f} vs {medians['bare']:.0f} req/s",
        )
    results.save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    add_json_out(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        server = ServerProcess.start(Path(tmp) / "server")
        bare_port = free_port()
        data = server.data_dir
        script = str(Path(__file__).with_name("_bare_server.py"))
        bare = subprocess.Popen(
            [sys.executable, script, str(bare_port), str(data / "server.pem"), str(data / "server-key.pem")]
        )
        try:
            token, ws = _token_and_workspace(server)
            signing = asyncio.run(signing_key_of(server))
            bare_url = f"https://127.0.0.1:{bare_port}/bare"
            _wait_until_answers(bare_url, ca=server.ca_file)
            asyncio.run(measure(bare_url=bare_url, ws=ws, token=token, signing=signing, ca=server.ca_file, args=args))
        finally:
            bare.terminate()
            bare.wait()
            server.stop()


if __name__ == "__main__":
    main()
