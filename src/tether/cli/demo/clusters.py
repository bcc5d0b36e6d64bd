"""The demo's set-up: the admin's login, two local clusters registered in Tether, workspaces, the ML extension.

The managed cluster (``aks``) is reached directly, the connected one (``arc``) through an agent that dials
out to the relay. Every step prints the ``tether`` command it runs (see ``Narrator``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from tether.cli.demo.kubectl import create_namespace
from tether.cli.demo.narrator import Narrator
from tether.client.views import read_view
from tether.protocol.answers import ConnectedClusterAnswer, ExtensionAnswer, ManagedClusterAnswer, ProvisionedAnswer
from tether.server_process import ServerProcess

#: The demo's two clusters in Tether: (ARM cluster type, cluster name, key of the local cluster).
CLUSTERS = (("managedClusters", "aks-cluster", "aks"), ("connectedClusters", "arc-cluster", "arc"))


def log_in_and_start_clusters(demo: Narrator, server: ServerProcess, clusters: dict[str, Path]) -> str:
    """Log in as the bootstrap admin and start the local clusters; returns the subscription id."""
    demo.say(f"A Tether server runs at {server.url} on SQLite. Log in as its bootstrap admin.")
    demo.tether("login", "--bootstrap", str(server.data_dir), "-o", "none")
    sub: str = demo.json("account", "show")["id"]
    demo.say(
        "Two real local Kubernetes clusters (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes); "
        "the managed one also has a real node (kubelet + containerd) that runs containers (one per host)."
    )
    for name, state in clusters.items():
        real = "1" if name == "aks" else "0"
        demo.tether("local-cluster", "up", "--name", f"demo-{name}", "--state-dir", str(state), "--real-nodes", real)
    return sub


def create_workspaces(demo: Narrator) -> None:
    demo.say("A resource group and two workspaces (each with a system-assigned identity).")
    demo.tether("group", "create", "-n", "ml-rg", "-l", "westeurope", "-o", "none")
    for ws in ("ws1", "ws2"):
        demo.tether("ml", "workspace", "create", "-n", ws, "-g", "ml-rg", "-o", "none")
    shown = demo.json("ml", "workspace", "show", "-n", "ws1", "-g", "ml-rg")
    demo.tether("ml", "workspace", "show", "-n", "ws1", "-g", "ml-rg", "-o", "table")
    demo.check(
        "workspace ws1",
        read_view(ProvisionedAnswer, shown, what="ws1").properties.provisioningState == "Succeeded",
        f"identity {shown['identity']['type']} {shown['identity']['principalId']}",
    )


def register_clusters(demo: Narrator, kubeconfig: dict[str, Path]) -> None:
    """S2: the managed cluster (``aks create``) and the connected one (``connectedk8s connect``)."""
    demo.say("S2: a managed cluster (the control plane reaches its API server directly)...")
    aks = read_view(
        ManagedClusterAnswer,
        demo.json("aks", "create", "-g", "ml-rg", "-n", "aks-cluster", "--kubeconfig", str(kubeconfig["aks"])),
        what="aks-cluster",
    )
    demo.check(
        "managed cluster registered",
        aks.properties.provisioningState == "Succeeded",
        f"Kubernetes {aks.properties.kubernetesVersion}",
    )
    demo.say("...and a connected cluster (an agent dials out to the relay; nothing dials in).")
    arc_answer = demo.json(
        "connectedk8s",
        "connect",
        "-g",
        "ml-rg",
        "-n",
        "arc-cluster",
        "--kubeconfig",
        str(kubeconfig["arc"]),
        "--agent-process",
    )
    arc = read_view(ConnectedClusterAnswer, arc_answer, what="arc-cluster")
    demo.check("connected cluster Connected", arc.properties.connectivityStatus == "Connected")


def install_ml_extension(demo: Narrator, kubeconfig: dict[str, Path]) -> None:
    """S1: the ML extension on both clusters, then wait until Tether reports each one Healthy."""
    demo.say("S1: the ML extension on both (the operator runs as a local process: kwok nodes run no images).")
    for kind, name, key in CLUSTERS:
        demo.tether(
            "k8s-extension",
            "create",
            "--name",
            "azureml",
            "--extension-type",
            "Microsoft.AzureML.Kubernetes",
            "--config",
            "enableTraining=True",
            "--cluster-type",
            kind,
            "--cluster-name",
            name,
            "--resource-group",
            "ml-rg",
            "--scope",
            "cluster",
            "--operator-process",
            "--kubeconfig",
            str(kubeconfig[key]),
            "-o",
            "none",
        )
    for kind, name, _ in CLUSTERS:
        _wait_healthy(demo, kind, name)


def _wait_healthy(demo: Narrator, kind: str, name: str) -> None:
    for _ in range(40):
        shown = demo.json(
            "k8s-extension",
            "show",
            "--name",
            "azureml",
            "--cluster-type",
            kind,
            "--cluster-name",
            name,
            "-g",
            "ml-rg",
        )
        health = read_view(ExtensionAnswer, shown, what=f"extension azureml on {name}").properties.health
        if health.get("status") == "Healthy":
            break
        time.sleep(0.5)
    demo.check(f"ML extension on {name}", health.get("status") == "Healthy", health.get("reason") or "healthy")


def create_team_namespace(demo: Narrator, kubeconfig: dict[str, Path]) -> None:
    """S6/S7: namespace team-a in the managed cluster, made through the Kubernetes API as kubectl would."""
    demo.say("S6/S7: the namespace a compute uses must exist; create team-a in the managed cluster.")
    asyncio.run(create_namespace(kubeconfig["aks"], "team-a"))
    click.echo("$ kubectl create namespace team-a   (done through the Kubernetes API)")
