"""Client-secret checks (scrypt, ~80 ms each) never stall the server, are throttled, and cost the same
for unknown client ids.

Before: each check ran on the event loop inside a store transaction, so 32 clients sending wrong
secrets pushed an unrelated GET to seconds, and an unknown client id answered in 3 ms against 74 ms
for a known one. These tests assert behaviour (what completes while what is in flight, what is
called), never timings.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from tests.integration.helpers import API
from tests.integration.test_tokens import credentials as form
from tether.crypto import hash_secret
from tether.errors import Throttled
from tether.identity import secret_checks
from tether.settings import TokenSettings
from tether.testing.server import InProcessServer, in_process_server, settings_for_tests


async def token_request(server: InProcessServer, fields: dict[str, str]) -> httpx2.Response:
    async with server.client(token="") as anonymous:
        return await anonymous.post(f"/{server.bootstrap.tenant_id}/oauth2/v2.0/token", data=fields)


@pytest.fixture
async def strict(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    """A server with small limits: 3 wrong secrets per client id, 6 per source, one thread, no queue."""
    settings = settings_for_tests(tmp_path)
    settings.tokens = TokenSettings(
        failed_secrets_per_client=3, failed_secrets_per_source=6, secret_check_threads=1, secret_check_queue=4
    )
    async with in_process_server(tmp_path, settings=settings) as running:
        yield running


async def test_a_burst_of_wrong_secrets_does_not_stall_an_unrelated_request(server: InProcessServer) -> None:
    checks = server.services.tokens.secret_checks
    burst = [
        asyncio.create_task(
            token_request(server, form(server, client_secret=f"wrong-{n}", client_id=str(uuid.uuid4())))
        )
        for n in range(24)
    ]
    while checks.in_flight < 2:  # noqa: ASYNC110 - wait until the checks have reached their threads
        await asyncio.sleep(0)

    async with server.client() as client:
        unrelated = await client.get(f"{server.subscription}/resourceGroups", params=API)

    assert unrelated.status_code == 200, unrelated.text
    assert checks.in_flight > 0, "the GET was answered only after every secret check had finished"
    assert sum(not task.done() for task in burst) > 0
    answers = await asyncio.gather(*burst)
    assert {r.status_code for r in answers} <= {401, 429}, [r.text for r in answers]


async def test_an_unknown_client_id_runs_the_same_check_as_a_known_one(
    server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[tuple[str, int]] = []
    real = secret_checks._any_matches

    def spy(secret: str, hashes: list[str]) -> str | None:
        checked.append((secret, len(hashes)))
        return real(secret, hashes)

    monkeypatch.setattr(secret_checks, "_any_matches", spy)

    known = await token_request(server, form(server, client_secret="wrong-known"))
    unknown = await token_request(server, form(server, client_secret="wrong-unknown", client_id=str(uuid.uuid4())))

    assert known.status_code == unknown.status_code == 401
    assert known.json()["error"] == unknown.json()["error"] == "invalid_client"
    assert checked == [("wrong-known", 1), ("wrong-unknown", 1)]


async def test_wrong_secrets_past_the_limit_answer_429_with_retry_after(strict: InProcessServer) -> None:
    for n in range(3):
        refused = await token_request(strict, form(strict, client_secret=f"wrong-{n}"))
        assert refused.status_code == 401, refused.text

    throttled = await token_request(strict, form(strict))  # even the right secret, until the window frees

    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["error"] == "temporarily_unavailable"
    assert "AADSTS50196" in throttled.json()["error_description"]
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60


async def test_the_source_limit_stops_a_client_id_spray(strict: InProcessServer) -> None:
    for _ in range(6):
        refused = await token_request(strict, form(strict, client_secret="wrong", client_id=str(uuid.uuid4())))
        assert refused.status_code == 401, refused.text

    throttled = await token_request(strict, form(strict, client_secret="wrong", client_id=str(uuid.uuid4())))

    assert throttled.status_code == 429, throttled.text
    assert "source" in throttled.json()["error_description"]


async def test_checks_past_the_queue_are_refused_at_once_not_queued(strict: InProcessServer) -> None:
    ids = [str(uuid.uuid4()) for _ in range(12)]  # distinct ids and below the source limit per window
    checks = strict.services.tokens.secret_checks
    answers = await asyncio.gather(
        *(checks.verify("wrong", [], client=client_id) for client_id in ids), return_exceptions=True
    )
    throttled = [a for a in answers if isinstance(a, Throttled)]
    assert throttled, answers
    assert all(a.retry_after_s == 1 for a in throttled)
    assert all(a is False or isinstance(a, Throttled) for a in answers)


async def test_the_relay_handshake_is_throttled_per_cluster(strict: InProcessServer) -> None:
    connectivity = strict.services.connectivity
    cluster = f"{strict.subscription}/resourcegroups/rg1/providers/microsoft.kubernetes/connectedclusters/c1"
    for _ in range(3):
        assert await connectivity.authenticate(cluster, "wrong") is False

    with pytest.raises(Throttled):
        await connectivity.authenticate(cluster, "wrong")


@pytest.fixture
def scrypt_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The secrets checked with scrypt, in order."""
    checked: list[str] = []
    real = secret_checks._any_matches

    def spy(secret: str, hashes: list[str]) -> str | None:
        checked.append(secret)
        return real(secret, hashes)

    monkeypatch.setattr(secret_checks, "_any_matches", spy)
    return checked


async def test_a_right_secret_is_remembered_and_stops_matching_once_its_hash_is_gone(scrypt_runs: list[str]) -> None:
    checks = secret_checks.SecretChecks(TokenSettings())
    stored = [hash_secret("right")]

    assert await checks.verify("right", stored, client="app")
    assert await checks.verify("right", stored, client="app")  # remembered: no second scrypt
    assert not await checks.verify("wrong", stored, client="app")
    assert not await checks.verify("right", [hash_secret("rotated")], client="app")  # its hash was removed

    assert scrypt_runs == ["right", "wrong", "right"]


async def test_with_no_memory_every_sign_in_is_checked(scrypt_runs: list[str]) -> None:
    checks = secret_checks.SecretChecks(TokenSettings(secret_check_memory_s=0))
    stored = [hash_secret("right")]

    assert await checks.verify("right", stored, client="app")
    assert await checks.verify("right", stored, client="app")

    assert scrypt_runs == ["right", "right"]


async def test_a_remembered_right_secret_signs_in_while_its_client_and_source_are_throttled(
    scrypt_runs: list[str],
) -> None:
    checks = secret_checks.SecretChecks(TokenSettings(failed_secrets_per_client=2, failed_secrets_per_source=2))
    stored = [hash_secret("right")]
    assert await checks.verify("right", stored, client="app", source="127.0.0.1")  # remembered from here on
    for n in range(2):
        assert not await checks.verify(f"wrong-{n}", stored, client="app", source="127.0.0.1")

    with pytest.raises(Throttled):
        await checks.verify("wrong-2", stored, client="app", source="127.0.0.1")
    assert await checks.verify("right", stored, client="app", source="127.0.0.1")
    with pytest.raises(Throttled):  # a right secret not remembered would need scrypt: refused like the rest
        await checks.verify("other", [hash_secret("other")], client="app", source="127.0.0.1")

    assert scrypt_runs == ["right", "wrong-0", "wrong-1"]
