"""The relay end to end: a real uvicorn (TLS) serving RelayHub, connect agents, and the local cluster.

lightkube talks to the cluster only through ``hub.transport(key)`` with a placeholder server URL, so
every call below crosses the tunnel: hub -> WebSocket -> agent -> the local cluster's API server. The
agent runs in-process (an asyncio task) except in the process test, which starts ``tether agent
connect`` so that SIGKILL and SIGSTOP are real. The hub uses a 64 KiB window so flow control is
exercised by ordinary responses. The only timing bound is the functional one: offline within 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
import pytest_asyncio
import uvicorn
import yaml
from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.config.models import Cluster, User
from lightkube.core.exceptions import ApiError
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tether import pki
from tether.agents.connect import AgentOptions, AgentState, ConnectAgent, manifests
from tether.localcluster import SIMULATE_DURATION_ANNOTATION, SIMULATE_LOG_ANNOTATION, LocalCluster
from tether.protocol.tunnel.codec import decode_frame
from tether.protocol.tunnel.connection import (
    AUTHORIZATION_HEADER,
    CLOSE_ALREADY_CONNECTED,
    CLOSE_FORBIDDEN,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNAUTHENTICATED,
    CLUSTER_HEADER,
)
from tether.protocol.tunnel.frames import Hello, ResetCode
from tether.relay import ClusterNotReachable, RelayHub, RelaySettings
from tether.relay.tunnel import StreamFailed

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
FAST_RETRY = AgentOptions(backoff_base_s=0.2, backoff_cap_s=1.0)
# `python -m tether agent connect ...` once cli/main.py registers the `agent` group; until then the same
# root command with the group added.
AGENT_MAIN = (
    "import sys; from tether.cli.main import cli, main; from tether.cli.agent import agent; "
    "cli.add_command(agent); main(sys.argv[1:])"
)


@dataclass
class Relay:
    hub: RelayHub
    url: str
    ca_file: Path
    workdir: Path
    credentials: dict[str, str] = field(default_factory=dict)
    auth_calls: list[tuple[str, bool]] = field(default_factory=list)
    statuses: list[tuple[str, bool]] = field(default_factory=list)

    async def authenticate(self, cluster_key: str, credential: str) -> bool:
        allowed = self.credentials.get(cluster_key) == credential
        self.auth_calls.append((cluster_key, allowed))
        return allowed

    async def on_status(self, cluster_key: str, connected: bool) -> None:
        self.statuses.append((cluster_key, connected))

    def history(self, key: str) -> list[bool]:
        return [up for k, up in self.statuses if k == key]

    def refusals(self, key: str) -> int:
        return sum(1 for k, allowed in self.auth_calls if k == key and not allowed)

    def new_cluster(self) -> tuple[str, str]:
        cluster = f"resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c-{secrets.token_hex(4)}"
        key = f"/subscriptions/00000000-0000-0000-0000-000000000000/{cluster}"
        self.credentials[key] = secrets.token_urlsafe(24)
        return key, self.credentials[key]

    def client(self, key: str, *, namespace: str | None = None) -> AsyncClient:
        """lightkube through the relay only: the server URL is a placeholder nobody could reach."""
        config = KubeConfig.from_one(cluster=Cluster(server="https://relay.invalid"), user=User(), namespace=namespace)
        return AsyncClient(config, namespace=namespace, transport=self.hub.transport(key), trust_env=False)


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted connections
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def relay(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Relay]:
    workdir = tmp_path_factory.mktemp("relay")
    ca = pki.create_ca("relay-test-ca")
    serving = pki.issue_certificate(ca, "relay", ip_addresses=["127.0.0.1"])
    pki.write_pem(workdir / "ca.pem", ca.cert_pem)
    pki.write_pem(workdir / "tls.crt", serving.cert_pem)
    pki.write_pem(workdir / "tls.key", serving.key_pem, private=True)
    holder: list[Relay] = []

    async def authenticate(key: str, credential: str) -> bool:
        return await holder[0].authenticate(key, credential)

    async def on_status(key: str, connected: bool) -> None:
        await holder[0].on_status(key, connected)

    hub = RelayHub(authenticate=authenticate, on_status=on_status, settings=RelaySettings(window=64 * 1024))
    app = Starlette(routes=[WebSocketRoute("/relay/connect", hub.serve)])
    sock = _listening_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        ssl_certfile=str(workdir / "tls.crt"),
        ssl_keyfile=str(workdir / "tls.key"),
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    serving_task = asyncio.create_task(server.serve(sockets=[sock]))
    await _eventually(lambda: server.started, what="uvicorn started", timeout=10)
    holder.append(Relay(hub, f"wss://127.0.0.1:{port}/relay/connect", workdir / "ca.pem", workdir))
    try:
        yield holder[0]
    finally:
        await hub.close()
        server.should_exit = True
        await serving_task
        sock.close()


async def _eventually(predicate: Callable[[], bool], *, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running_agent(
    relay: Relay, cluster: LocalCluster, *, key: str, credential: str
) -> AsyncIterator[ConnectAgent]:
    agent = ConnectAgent(
        relay_url=relay.url,
        cluster_key=key,
        credential=credential,
        upstream=cluster.kubeconfig_path,
        ca_file=relay.ca_file,
        options=FAST_RETRY,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield agent
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
    assert agent.state is AgentState.STOPPED


@asynccontextmanager
async def connected_agent(relay: Relay, cluster: LocalCluster) -> AsyncIterator[tuple[str, ConnectAgent]]:
    key, credential = relay.new_cluster()
    async with running_agent(relay, cluster, key=key, credential=credential) as agent:
        await _eventually(lambda: relay.hub.connected(key), what="the agent connected")
        await _eventually(lambda: relay.history(key) == [True], what="the hub reported the agent connected")
        yield key, agent


def _session_streams(agent: ConnectAgent) -> int:
    return agent.session.open_streams if agent.session is not None else 0


async def test_kubernetes_calls_cross_the_tunnel(relay: Relay, local_cluster: LocalCluster, namespace: str) -> None:
    async with connected_agent(relay, local_cluster) as (key, _agent), relay.client(key) as client:
        names = {ns.metadata.name async for ns in client.list(Namespace) if ns.metadata}
        assert {"default", "kube-system", namespace} <= names

        created = ConfigMap(metadata=ObjectMeta(name="via-relay", namespace=namespace), data={"answer": "42"})
        await client.create(created)
        fetched = await client.get(ConfigMap, "via-relay", namespace=namespace)
        assert fetched.data == {"answer": "42"}
        async with local_cluster.client() as direct:  # it really is in the cluster
            assert (await direct.get(ConfigMap, "via-relay", namespace=namespace)).data == {"answer": "42"}

        await client.delete(ConfigMap, "via-relay", namespace=namespace)
        with pytest.raises(ApiError) as gone:  # error bodies cross the tunnel too
            await client.get(ConfigMap, "via-relay", namespace=namespace)
        assert gone.value.status.code == 404
    await _eventually(lambda: relay.history(key) == [True, False], what="the hub reported the agent gone")
    with pytest.raises(ClusterNotReachable, match="connect agent is not connected"):
        relay.hub.transport(key)


async def test_watch_through_the_relay_sees_events_while_other_calls_proceed(
    relay: Relay, local_cluster: LocalCluster, namespace: str
) -> None:
    async with connected_agent(relay, local_cluster) as (key, agent), relay.client(key) as client:
        seen: list[tuple[str, str]] = []

        async def watch() -> None:
            async for op, obj in client.watch(ConfigMap, namespace=namespace, labels={"relay-test": "watch"}):
                assert obj.metadata is not None
                seen.append((op, str(obj.metadata.name)))
                if len(seen) == 3:
                    return

        watching = asyncio.create_task(watch())
        await _eventually(lambda: relay.hub.open_streams(key) == 1, what="the watch stream is open")
        for i in range(3):
            labels = {"relay-test": "watch"}
            await client.create(ConfigMap(metadata=ObjectMeta(name=f"cm-{i}", namespace=namespace, labels=labels)))
            await client.get(Namespace, namespace)  # other calls share the tunnel with the open watch
        async with asyncio.timeout(15):
            await watching
        assert seen == [("ADDED", "cm-0"), ("ADDED", "cm-1"), ("ADDED", "cm-2")]
        # Leaving the watch closed its response: the agent cancelled the upstream watch.
        await _eventually(
            lambda: relay.hub.open_streams(key) == 0 and _session_streams(agent) == 0, what="the watch was closed"
        )


async def test_pod_log_read_and_followed_stream_cancelled(
    relay: Relay, local_cluster: LocalCluster, namespace: str
) -> None:
    annotations = {SIMULATE_LOG_ANNOTATION: "step 1\nstep 2\nstep 3", SIMULATE_DURATION_ANNOTATION: "120s"}
    pod = Pod(
        metadata=ObjectMeta(name="talker", namespace=namespace, annotations=annotations),
        spec=PodSpec(restartPolicy="Never", containers=[Container(name="main", image="python:3.11")]),
    )
    async with connected_agent(relay, local_cluster) as (key, agent), relay.client(key) as client:
        await client.create(pod)
        text = ""
        deadline = time.monotonic() + 20
        while "step 3" not in text:  # kwok serves the log once the pod runs and the writer caught up
            if time.monotonic() > deadline:
                pytest.fail(f"the pod's log through the relay is {text!r} after 20 s")
            await asyncio.sleep(0.1)
            with contextlib.suppress(ApiError):
                text = "".join([line async for line in client.log("talker", namespace=namespace)])
        assert text == "step 1\nstep 2\nstep 3\n"

        lines: list[str] = []
        async with aclosing(client.log("talker", namespace=namespace, follow=True)) as followed:
            async for line in followed:
                lines.append(line)
                if len(lines) == 3:
                    break
            assert relay.hub.open_streams(key) == 1, "a followed log stays open until the reader closes it"
        assert lines == ["step 1\n", "step 2\n", "step 3\n"]
        await _eventually(
            lambda: relay.hub.open_streams(key) == 0 and _session_streams(agent) == 0,
            what="closing the followed log cancelled the stream at the agent",
        )


async def test_a_target_the_agent_cannot_forward_is_refused_not_left_hanging(
    relay: Relay, local_cluster: LocalCluster
) -> None:
    async def no_body() -> AsyncIterator[bytes]:
        return
        yield b""

    async with connected_agent(relay, local_cluster) as (key, agent):
        # Valid on the wire (origin-form), but not a URL path httpx2 will send: the agent must answer.
        stream = await relay.hub.tunnel(key).open_stream(
            method="GET", target="/api/v1/namespaces#fragment", headers=(), body=no_body()
        )
        with pytest.raises(StreamFailed) as failed:
            await stream.response_head(timeout=5)

        assert failed.value.code is ResetCode.REFUSED
        assert "cannot forward '/api/v1/namespaces#fragment'" in failed.value.message
        await _eventually(lambda: _session_streams(agent) == 0, what="the agent forgot the stream")


async def test_a_slow_reader_stalls_only_its_own_stream(
    relay: Relay, local_cluster: LocalCluster, namespace: str
) -> None:
    payloads = {f"big-{i}": secrets.token_hex(64 * 1024) for i in range(3)}  # ~384 KiB, incompressible
    async with connected_agent(relay, local_cluster) as (key, agent), relay.client(key) as client:
        for name, data in payloads.items():
            await client.create(ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace), data={"blob": data}))
        async with httpx2.AsyncClient(transport=relay.hub.transport(key), base_url="https://relay.invalid") as http:
            request = http.build_request(
                "GET", f"/api/v1/namespaces/{namespace}/configmaps", headers={"Accept-Encoding": "identity"}
            )
            response = await http.send(request, stream=True)
            try:
                # Nobody reads: the agent fills the 64 KiB window and waits for credit...
                await _eventually(
                    lambda: agent.session is not None and agent.session.stalled_streams == 1,
                    what="the agent waits for credit on the unread stream",
                )
                # ...while the tunnel serves everything else.
                for _ in range(5):
                    assert (await client.get(Namespace, namespace)).metadata is not None
                body = b"".join([chunk async for chunk in response.aiter_bytes()])
            finally:
                await response.aclose()
        items = {i["metadata"]["name"]: i["data"]["blob"] for i in json.loads(body)["items"] if "blob" in i["data"]}
        assert items == payloads
        assert relay.hub.open_streams(key) == 0


@asynccontextmanager
async def fake_api_server(
    relay: Relay, respond: Callable[[asyncio.StreamWriter], Awaitable[None]]
) -> AsyncIterator[tuple[str, list[str]]]:
    """A TLS server that answers every request with ``respond`` (keeping connections alive); yields the
    agent's upstream kubeconfig and the list of connections it accepted."""
    ca = pki.create_ca("fake-api-server-ca")
    serving = pki.issue_certificate(ca, "fake-api-server", ip_addresses=["127.0.0.1"])
    directory = relay.workdir / f"fake-api-{secrets.token_hex(4)}"
    directory.mkdir()
    pki.write_pem(directory / "ca.pem", ca.cert_pem)
    pki.write_pem(directory / "tls.crt", serving.cert_pem)
    pki.write_pem(directory / "tls.key", serving.key_pem, private=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")

    accepted: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(str(writer.get_extra_info("peername")))
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await respond(writer)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}", "certificate-authority": "ca.pem"}}
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    (directory / "kubeconfig").write_text(yaml.safe_dump(config))
    try:
        yield str(directory / "kubeconfig"), accepted
    finally:
        server.close()


@asynccontextmanager
async def agent_for(relay: Relay, kubeconfig: str) -> AsyncIterator[tuple[httpx2.AsyncClient, ConnectAgent]]:
    """An agent forwarding to ``kubeconfig``'s server, and a plain httpx2 client through the relay to it."""
    key, credential = relay.new_cluster()
    agent = ConnectAgent(
        relay_url=relay.url, cluster_key=key, credential=credential, upstream=kubeconfig, ca_file=relay.ca_file
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await _eventually(lambda: relay.hub.connected(key), what="the agent connected")
        async with httpx2.AsyncClient(transport=relay.hub.transport(key), base_url="https://relay.invalid") as http:
            yield http, agent
    finally:
        stop.set()
        await task


async def test_an_upstream_body_cut_midway_is_a_read_error_for_the_caller(relay: Relay) -> None:
    async def cut(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        writer.transport.abort()

    async with (
        fake_api_server(relay, cut) as (kubeconfig, _accepted),
        agent_for(relay, kubeconfig) as (http, _agent),
        http.stream("GET", "/api/v1/namespaces") as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx2.ReadError, match="broke off"):
            await response.aread()


async def test_the_agent_keeps_one_upstream_connection_for_many_requests(relay: Relay) -> None:
    async def ok(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()

    async with fake_api_server(relay, ok) as (kubeconfig, accepted), agent_for(relay, kubeconfig) as (http, _):
        for _ in range(10):
            assert (await http.get("/api/v1/namespaces")).status_code == 200

    assert len(accepted) == 1, f"the agent dialled its API server {len(accepted)} times"


async def test_wrong_credential_is_refused(relay: Relay, local_cluster: LocalCluster) -> None:
    key, _credential = relay.new_cluster()
    async with running_agent(relay, local_cluster, key=key, credential="not-the-credential") as agent:
        await _eventually(lambda: relay.refusals(key) >= 2, what="the agent retried and was refused again")
        assert agent.last_close is not None
        assert agent.last_close.code == CLOSE_FORBIDDEN
        assert agent.sessions == 0
        assert not relay.hub.connected(key)
    assert relay.history(key) == []


async def test_second_agent_for_a_live_cluster_is_refused(relay: Relay, local_cluster: LocalCluster) -> None:
    async with connected_agent(relay, local_cluster) as (key, first):
        credential = relay.credentials[key]
        async with running_agent(relay, local_cluster, key=key, credential=credential) as second:
            await _eventually(
                lambda: second.last_close is not None and second.last_close.code == CLOSE_ALREADY_CONNECTED,
                what="the second agent was told another one is connected",
            )
            assert second.sessions == 0
        assert first.state is AgentState.CONNECTED
        assert relay.history(key) == [True]


async def test_revoke_drops_the_tunnel_and_the_old_credential_stays_out(
    relay: Relay, local_cluster: LocalCluster
) -> None:
    async with connected_agent(relay, local_cluster) as (key, agent):
        del relay.credentials[key]  # what the control plane does when it revokes the credential
        refusals_before = relay.refusals(key)
        await relay.hub.revoke(key)
        assert relay.history(key) == [True, False]
        assert not relay.hub.connected(key)
        await _eventually(lambda: relay.refusals(key) > refusals_before, what="the agent tried again and was refused")
        await _eventually(
            lambda: agent.last_close is not None and agent.last_close.code == CLOSE_FORBIDDEN,
            what="the agent saw 4403",
        )
        assert agent.sessions == 1
        assert relay.history(key) == [True, False]
        with pytest.raises(ClusterNotReachable):
            relay.hub.transport(key)


async def test_agent_that_cannot_reach_its_api_server_gives_cluster_not_reachable(relay: Relay) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    unreachable = KubeConfig.from_one(cluster=Cluster(server=f"https://127.0.0.1:{dead_port}"), user=User(token="t"))
    key, credential = relay.new_cluster()
    agent = ConnectAgent(
        relay_url=relay.url, cluster_key=key, credential=credential, upstream=unreachable.get(), ca_file=relay.ca_file
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await _eventually(lambda: relay.hub.connected(key), what="the agent connected")
        async with relay.client(key) as client:
            with pytest.raises(ClusterNotReachable, match="could not reach the cluster's Kubernetes API server"):
                await client.get(Namespace, "default")
        assert relay.hub.connected(key), "the tunnel itself stays up"
    finally:
        stop.set()
        await task


async def _read_until_closed(ws: ClientConnection) -> None:
    while True:
        await ws.recv()  # PINGs may come before the close


async def test_bad_handshake_and_malformed_frames_close_with_their_codes(relay: Relay) -> None:
    context = ssl.create_default_context(cafile=str(relay.ca_file))
    async with ws_connect(relay.url, ssl=context, proxy=None) as ws:  # no cluster header, no credential
        with pytest.raises(ConnectionClosed) as refused:
            await ws.recv()
    assert refused.value.rcvd is not None
    assert refused.value.rcvd.code == CLOSE_UNAUTHENTICATED

    key, credential = relay.new_cluster()
    headers = {CLUSTER_HEADER: key, AUTHORIZATION_HEADER: f"Bearer {credential}"}
    async with ws_connect(relay.url, ssl=context, proxy=None, additional_headers=headers) as ws:
        assert isinstance(decode_frame(await ws.recv()), Hello)
        await _eventually(lambda: relay.history(key) == [True], what="admitted")
        await ws.send(b"\x01\x05garbage")
        with pytest.raises(ConnectionClosed) as closed:
            await _read_until_closed(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_PROTOCOL_ERROR
    await _eventually(lambda: relay.history(key) == [True, False], what="the hub reported the broken agent gone")


def _tether_command() -> list[str]:
    from tether.cli.main import cli

    return [sys.executable, "-m", "tether"] if "agent" in cli.commands else [sys.executable, "-c", AGENT_MAIN]


class AgentProcess:
    """``tether agent connect`` as a child process (its log in a file, for failure messages)."""

    def __init__(self, relay: Relay, cluster: LocalCluster, *, key: str, credential: str) -> None:
        self.credential_file = relay.workdir / f"credential-{secrets.token_hex(4)}"
        fd = os.open(self.credential_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(credential + "\n")
        self.log_file = relay.workdir / f"agent-{secrets.token_hex(4)}.log"
        self.argv = [
            *_tether_command(),
            "agent",
            "connect",
            "--relay-url",
            relay.url,
            "--cluster-id",
            key,
            "--credential-file",
            str(self.credential_file),
            "--kubeconfig",
            str(cluster.kubeconfig_path),
            "--ca-file",
            str(relay.ca_file),
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "the previous process still runs"
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def log_tail(self) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])

    async def wait(self, *, timeout: float) -> int:
        assert self.process is not None
        process = self.process
        await _eventually(lambda: process.poll() is not None, what="the agent process exited", timeout=timeout)
        return process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


async def test_agent_process_cut_and_restarted(relay: Relay, local_cluster: LocalCluster) -> None:
    key, credential = relay.new_cluster()
    agent = AgentProcess(relay, local_cluster, key=key, credential=credential)
    try:
        agent.start()
        await _eventually(lambda: relay.history(key) == [True], what=f"agent process connected\n{agent.log_tail()}")
        transport_before = relay.hub.transport(key)
        async with relay.client(key) as client:
            assert (await client.get(Namespace, "default")).metadata is not None

        # A frozen agent (its TCP connection stays up) is caught by the hub's keepalive.
        agent.signal(signal.SIGSTOP)
        await _eventually(lambda: relay.history(key) == [True, False], what="offline after SIGSTOP", timeout=10)
        with pytest.raises(ClusterNotReachable):
            relay.hub.transport(key)
        agent.signal(signal.SIGCONT)
        await _eventually(lambda: relay.hub.connected(key), what=f"reconnected after SIGCONT\n{agent.log_tail()}")

        # A killed agent: offline within 10 s, requests on an existing transport fail with the typed error.
        agent.signal(signal.SIGKILL)
        assert await agent.wait(timeout=10) == -signal.SIGKILL
        await _eventually(lambda: relay.history(key)[-1] is False, what="offline after SIGKILL", timeout=10)
        with pytest.raises(ClusterNotReachable, match="Check that the agent runs"):
            relay.hub.transport(key)
        async with AsyncClient(
            KubeConfig.from_one(cluster=Cluster(server="https://relay.invalid"), user=User()),
            transport=transport_before,
            trust_env=False,
        ) as stale:
            with pytest.raises(ClusterNotReachable):
                await stale.get(Namespace, "default")

        # Restarted: connected again, and the transport obtained before the cut works again.
        agent.start()
        await _eventually(lambda: relay.hub.connected(key), what=f"agent reconnected\n{agent.log_tail()}")
        async with relay.client(key) as client:
            assert (await client.get(Namespace, "default")).metadata is not None

        # SIGTERM: a clean exit, and the hub reports the agent gone.
        agent.signal(signal.SIGTERM)
        assert await agent.wait(timeout=10) == 0, agent.log_tail()
        await _eventually(lambda: not relay.hub.connected(key), what="offline after SIGTERM")
        assert relay.history(key) == [True, False, True, False, True, False]
        assert "connected (session" in agent.log_file.read_text()
    finally:
        agent.kill()


async def test_deploy_manifest_is_the_rendering_and_the_api_server_accepts_it(
    local_cluster: LocalCluster, namespace: str
) -> None:
    deployed = [doc for doc in yaml.safe_load_all((REPO / "deploy" / "connect-agent.yaml").read_text()) if doc]
    ca_placeholder = "\n".join(
        [
            "-----BEGIN CERTIFICATE-----",
            "REPLACE WITH THE CONTROL PLANE'S CA CERTIFICATE (PEM)",
            "-----END CERTIFICATE-----",
            "",
        ]
    )
    rendered = manifests(
        relay_url="wss://tether.example.com/relay/connect",
        cluster_id="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-group/providers"
        "/Microsoft.Kubernetes/connectedClusters/my-cluster",
        credential="REPLACE-WITH-THE-CLUSTER-CREDENTIAL",
        ca_pem=ca_placeholder,
    )
    assert deployed == rendered
    assert [m["kind"] for m in deployed] == [
        "Namespace",
        "ServiceAccount",
        "ClusterRoleBinding",
        "Secret",
        "ConfigMap",
        "Deployment",
    ]
    # Server-side dry run (namespaced objects in the test's namespace, which exists).
    objects = manifests(relay_url="wss://relay.test/relay/connect", cluster_id="c", credential="x", namespace=namespace)
    async with AsyncClient(local_cluster.kubeconfig(), dry_run=True, trust_env=False) as dry:
        for manifest in objects:
            if manifest["kind"] == "Namespace":
                manifest["metadata"]["name"] = f"{namespace}-arc"
            await dry.create(codecs.from_dict(manifest))
