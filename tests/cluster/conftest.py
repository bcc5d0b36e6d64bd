"""Helpers for the product-flow tests on the local cluster: the ``tether`` CLI as a user runs it, and
clusters registered in a Tether server the way the seed does it (``aks create``, ``connectedk8s
connect --agent-process``, ``k8s-extension create --operator-process``).

Several Tether clusters register the one physical local cluster; the ML extension installs into its
``azureml`` namespace cluster-wide and idempotently, so each module installs it through Tether and
never uninstalls it (tests/cluster/test_extension.py does that for itself). ``stop_local_agents``
ends the agent and operator processes a module started, by the pids they recorded; run it before
the next module starts, or a stray operator keeps renewing the heartbeat that test_extension.py
expects to control.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tether.cli import local_agents
from tether.cli.connectedk8s import agent_name
from tether.cli.local_agents import stop_all
from tether.client import TetherClient
from tether.client.profile import load_profile

AZUREML = "Microsoft.AzureML.Kubernetes"
CONNECTED_AFTER_S = 30.0


class TetherServer(Protocol):
    """What the helpers need of a server: a real process (ServerProcess) or an in-process one."""

    data_dir: Path

    @property
    def url(self) -> str: ...

    def cli_env(self, config_dir: Path) -> dict[str, str]: ...


@dataclass
class Cli:
    """Runs ``tether`` in a subprocess with its own config dir, as a user types it."""

    env: dict[str, str]
    config_dir: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "tether", *args],
            env={**self.env, "TETHER_CONFIG_DIR": str(self.config_dir)},
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tether {shlex.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def line(self, line: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command line as typed in a shell, without the leading ``tether``."""
        return self.run(*shlex.split(line), check=check)

    def json(self, line: str) -> Any:
        return json.loads(self.line(line).stdout)

    def as_other(self, config_dir: Path) -> Cli:
        return Cli(self.env, config_dir)

    def client(self) -> TetherClient:
        """The Python client logged in as this CLI's principal (for setup steps and polling)."""
        return TetherClient(load_profile(self.config_dir))


@dataclass
class Clusters:
    """One managed and one connected Tether cluster on the local cluster, both with the ML extension."""

    cli: Cli
    client: TetherClient
    subscription_id: str
    resource_group: str
    managed: str
    connected: str
    kubeconfig: Path
    ca_file: str
    restarted: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    def managed_id(self, name: str | None = None) -> str:
        return f"{self.group_id}/providers/Microsoft.ContainerService/managedClusters/{name or self.managed}"

    def connected_id(self, name: str | None = None) -> str:
        return f"{self.group_id}/providers/Microsoft.Kubernetes/connectedClusters/{name or self.connected}"

    def extension_id(self, cluster_id: str) -> str:
        return f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/azureml"

    def workspace_id(self, name: str) -> str:
        return f"{self.group_id}/providers/Microsoft.MachineLearningServices/workspaces/{name}"

    # --- the connect agent of the connected cluster (a local process) ------------------------------------------
    def agent_dir(self) -> Path:
        return local_agents.agent_dir(self.cli.config_dir, agent_name(self.resource_group, self.connected))

    def agent_pid(self) -> int:
        return int((self.agent_dir() / "agent.pid").read_text())

    def agent_log(self) -> str:
        return (self.agent_dir() / "agent.log").read_text(errors="replace")

    def kill_agent(self) -> None:
        """SIGKILL the agent: no goodbye on the WebSocket, as when its node dies."""
        pid = self.agent_pid()
        (self.agent_dir() / "agent.pid").unlink()
        os.kill(pid, signal.SIGKILL)
        for process in self.restarted:
            if process.pid == pid:
                process.wait(timeout=10)

    def restart_agent(self) -> None:
        """Start the agent again with the credential file it had (what its Deployment's restart does).

        Started here rather than by ``tether.cli.local_agents`` so that this process owns (and reaps) it.
        """
        relay_url = self.client.get(self.connected_id())["properties"]["relayEndpoint"]
        args = ["agent", "connect", "--relay-url", relay_url, "--cluster-id", self.connected_id()]
        args += ["--credential-file", str(self.agent_dir() / "credential"), "--kubeconfig", str(self.kubeconfig)]
        args += ["--ca-file", self.ca_file]
        with (self.agent_dir() / "agent.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tether", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.restarted.append(process)
        (self.agent_dir() / "agent.pid").write_text(str(process.pid))

    def close(self) -> None:
        """Stop the agents this process restarted, and close the client."""
        self.stop_restarted_agents()
        self.client.close()

    def stop_restarted_agents(self) -> None:
        for process in self.restarted:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            pid_file = self.agent_dir() / "agent.pid"
            if pid_file.exists() and pid_file.read_text() == str(process.pid):
                pid_file.unlink()
        self.restarted.clear()

    def connectivity(self) -> str:
        return str(self.client.get(self.connected_id())["properties"]["connectivityStatus"])

    def wait_connectivity(self, status: str, *, timeout: float) -> float:
        """Seconds until the connected cluster's ``connectivityStatus`` is ``status``; fails after ``timeout``."""
        started = time.monotonic()
        while (seen := self.connectivity()) != status:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"connectivityStatus is {seen}, not {status}, after {timeout} s")
            time.sleep(0.1)
        return time.monotonic() - started


def log_in(server: TetherServer, config_dir: Path) -> Cli:
    cli = Cli(server.cli_env(config_dir), config_dir)
    cli.run("login", "--bootstrap", str(server.data_dir), "-o", "none")
    return cli


def register_clusters(cli: Cli, *, kubeconfig: Path, resource_group: str, managed: str, connected: str) -> Clusters:
    """The seed's prerequisites through the CLI: both kinds of cluster, each with the ML extension (S1, S2)."""
    profile = load_profile(cli.config_dir)
    cli.line(f"group create -n {resource_group} -l westeurope -o none")
    cli.line(f"aks create -g {resource_group} -n {managed} --kubeconfig {kubeconfig} -o none")
    cli.line(
        f"connectedk8s connect -g {resource_group} -n {connected} --kubeconfig {kubeconfig} --agent-process -o none"
    )
    for kind, name in (("managedClusters", managed), ("connectedClusters", connected)):
        cli.line(
            f"k8s-extension create --name azureml --extension-type {AZUREML} --config enableTraining=True "
            f"--cluster-type {kind} --cluster-name {name} --resource-group {resource_group} --scope cluster "
            f"--operator-process --kubeconfig {kubeconfig} -o none"
        )
    return Clusters(
        cli=cli,
        client=cli.client(),
        subscription_id=profile.subscription_id,
        resource_group=resource_group,
        managed=managed,
        connected=connected,
        kubeconfig=kubeconfig,
        ca_file=str(profile.ca_file),
    )


def workspace_on_managed_cluster(
    cli: Cli, *, kubeconfig: Path, resource_group: str, workspace: str, cluster: str
) -> None:
    """A resource group, a workspace, the local cluster registered as a managed cluster, and the ML
    extension on it with its operator as a local process."""
    cli.line(f"group create -n {resource_group} -l westeurope -o none")
    cli.line(f"ml workspace create -n {workspace} -g {resource_group} -o none")
    managed_cluster_with_extension(cli, kubeconfig=kubeconfig, resource_group=resource_group, cluster=cluster)


def managed_cluster_with_extension(cli: Cli, *, kubeconfig: Path, resource_group: str, cluster: str) -> None:
    """The local cluster registered as a managed cluster in an existing group, and the ML extension on it
    with its operator as a local process."""
    cli.line(f"aks create -g {resource_group} -n {cluster} --kubeconfig {kubeconfig} -o none")
    cli.line(
        f"k8s-extension create --name azureml --extension-type {AZUREML} --config enableTraining=True "
        f"--cluster-type managedClusters --cluster-name {cluster} --resource-group {resource_group} --scope cluster "
        f"--operator-process --kubeconfig {kubeconfig} -o none"
    )


def stop_local_agents(config_dir: Path) -> None:
    """Stop every agent and operator the CLI started under ``config_dir`` (zombies count as stopped)."""
    stop_all(config_dir)
