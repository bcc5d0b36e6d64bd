"""Fuzzing the ARM surface from its own OpenAPI document: schemathesis against a real server process.

Every operation the document describes (each resource type's collection and item paths) gets a
bounded number of generated requests (deterministic: hypothesis derandomized, no example database),
authenticated as the bootstrap admin, over HTTPS on loopback. Any 5xx fails the test, listing each
request that got one. The subscription and resource group are pinned to real ones so requests reach
the providers' validation, not only the id parser.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tether.server_process import ServerProcess

EXAMPLES_PER_OPERATION = 8
API = {"api-version": "2024-10-01"}
GROUP = "rg-fuzz"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = ServerProcess.start(tmp_path_factory.mktemp("fuzz-server"))
    try:
        yield running
    finally:
        running.stop()


def admin_token(server: ServerProcess) -> str:
    boot = server.bootstrap
    response = httpx2.post(
        f"{server.url}/{boot['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": boot["client_id"],
            "client_secret": boot["client_secret"],
            "scope": f"{server.url}/.default",
        },
        verify=ssl.create_default_context(cafile=server.ca_file),
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def pinned(document: dict[str, Any], *, subscription: str) -> dict[str, Any]:
    """The document with the subscription and resource group fixed to existing ones."""
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "subscriptionId":
                    parameter["schema"] = {"type": "string", "enum": [subscription]}
                elif parameter["name"] == "resourceGroupName" and not operation.get("summary", "").endswith(
                    "resourceGroups item"
                ):
                    parameter["schema"] = {"type": "string", "enum": [GROUP]}
    return document


def test_no_generated_request_gets_a_server_error(server: ServerProcess, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {admin_token(server)}"}
    subscription = server.bootstrap["subscription_id"]
    with httpx2.Client(
        base_url=server.url, verify=ssl.create_default_context(cafile=server.ca_file), headers=headers
    ) as http:
        document = http.get("/openapi.json").json()
        created = http.put(f"/subscriptions/{subscription}/resourceGroups/{GROUP}", params=API, json={"location": "x"})
        assert created.is_success, created.text
    assert sum(path.startswith("/subscriptions/{subscriptionId}/") for path in document["paths"]) >= 20
    schema = schemathesis.openapi.from_dict(pinned(document, subscription=subscription))

    session = requests.Session()
    session.verify = server.ca_file
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/subscriptions/{subscriptionId}/"):
            continue
        operations += 1

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case) -> None:
            response = case.call(
                base_url=server.url, session=session, headers=headers, timeout=30, verify=server.ca_file
            )
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}")

        exercise()

    assert operations >= 40, operations
    assert failures == [], "\n".join(failures[:50])
