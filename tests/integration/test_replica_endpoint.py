"""The replicas' internal endpoint (relay forwarding, decision 0018) on a real server process: it serves only
on its own port, only to callers with the replicas' credential (derived from ``secrets.key``), and says
"not here" for a cluster whose tunnel this server does not hold. The forwarding itself, between two
servers and through a real agent, is tests/cluster/test_two_servers_relay.py."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tether.crypto import SecretBox
from tether.relay.replicas import CLUSTER_HEADER, CREDENTIAL_HEADER, CREDENTIAL_PURPOSE, KUBE_PREFIX, NOT_HERE_HEADER
from tether.server_process import ServerProcess

CLUSTER = "/subscriptions/x/resourcegroups/rg/providers/microsoft.kubernetes/connectedclusters/nowhere"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = ServerProcess.start(
        tmp_path_factory.mktemp("replica") / "server", extra_args=("--internal-port", str(port))
    )
    try:
        yield process, f"https://127.0.0.1:{port}"
    finally:
        process.stop()


def _client(server: ServerProcess, url: str) -> httpx2.Client:
    return httpx2.Client(base_url=url, verify=ssl.create_default_context(cafile=server.ca_file), timeout=10)


def _credential(data_dir: Path) -> str:
    return SecretBox.from_key_file(data_dir / "secrets.key").derive(CREDENTIAL_PURPOSE)


def test_without_the_replicas_credential_nothing_is_forwarded(server: tuple[ServerProcess, str]) -> None:
    process, internal = server
    path = f"{KUBE_PREFIX}/api/v1/namespaces"
    with _client(process, internal) as client:
        missing = client.get(path, headers={CLUSTER_HEADER: CLUSTER})
        wrong = client.get(path, headers={CLUSTER_HEADER: CLUSTER, CREDENTIAL_HEADER: "0" * 64})
        revoke = client.post("/replica/v1/revoke", headers={CLUSTER_HEADER: CLUSTER})

    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "ReplicaCredentialRefused")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "ReplicaCredentialRefused")
    assert revoke.status_code == 401


def test_a_cluster_whose_tunnel_is_elsewhere_is_not_here(server: tuple[ServerProcess, str]) -> None:
    process, internal = server
    headers = {CLUSTER_HEADER: CLUSTER, CREDENTIAL_HEADER: _credential(process.data_dir)}
    with _client(process, internal) as client:
        answer = client.get(f"{KUBE_PREFIX}/api/v1/namespaces", headers=headers)

    assert answer.status_code == 503
    assert answer.headers[NOT_HERE_HEADER] == "1"
    assert "nowhere" in answer.text


def test_the_public_port_does_not_serve_forwarding_nor_the_internal_port_the_api(
    server: tuple[ServerProcess, str],
) -> None:
    process, internal = server
    headers = {CLUSTER_HEADER: CLUSTER, CREDENTIAL_HEADER: _credential(process.data_dir)}
    with _client(process, process.url) as public, _client(process, internal) as inside:
        forwarded_publicly = public.get(f"{KUBE_PREFIX}/api/v1/namespaces", headers=headers)
        api_inside = inside.get("/metadata/endpoints", params={"api-version": "2019-05-01"})

    assert forwarded_publicly.status_code == 404
    assert NOT_HERE_HEADER.lower() not in forwarded_publicly.headers
    assert api_inside.status_code == 404
