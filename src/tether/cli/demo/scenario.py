"""The seed scenario end to end, on one machine: a server on SQLite, two real local clusters, the CLI.

Steps: a managed cluster (direct) and a connected cluster (outbound agent), the ML extension on both
(``clusters``), the seed's two attach commands verbatim, multi-attach in one and in two workspaces
(``attach``), a job that completes on the managed cluster and whose identity token the unmodified
azure-identity obtains, a job reading and writing the workspace's storage with that identity (its code
played, ``storage``), a job whose image is pulled from a Tether registry with the compute identity and
one whose compute lacks AcrPull failing fast (``registry``), and a job on a missing namespace failing
fast (``jobs``). It prints each command, then a short report, and leaves nothing running (agents,
operator, clusters and server are stopped in every case).
"""

from __future__ import annotations

import signal
import sys
import tempfile
from pathlib import Path

import click

from tether.cli.demo import attach, clusters, jobs, registry, storage
from tether.cli.demo.narrator import DemoStepFailed, Narrator
from tether.cli.local_agents import stop_all
from tether.server_process import ServerProcess


def run(work: Path) -> list[tuple[str, str]]:
    server = ServerProcess.start(work / "server")
    demo = Narrator(server, str(work / "config"))
    local_clusters = {"aks": work / "kube-aks", "arc": work / "kube-arc"}
    try:
        _scenario(demo, server, local_clusters)
    finally:
        click.echo("\n# Cleaning up: agents, operators, clusters, server.")
        for name in stop_all(Path(demo.config_dir)):
            click.echo(f"  stopped local agent {name}")
        for name, state in local_clusters.items():
            if state.exists():
                demo.tether("local-cluster", "down", "--name", f"demo-{name}", "--state-dir", str(state), show=False)
        server.stop()
    return demo.report


def _scenario(demo: Narrator, server: ServerProcess, local_clusters: dict[str, Path]) -> None:
    sub = clusters.log_in_and_start_clusters(demo, server, local_clusters)
    kubeconfig = {name: state / "kubeconfig" for name, state in local_clusters.items()}
    clusters.create_workspaces(demo)
    clusters.register_clusters(demo, kubeconfig)
    clusters.install_ml_extension(demo, kubeconfig)
    clusters.create_team_namespace(demo, kubeconfig)
    attach.attach_seed_computes(demo, sub)
    attach.attach_again(demo, sub)
    jobs.run_job_with_identity(demo, kubeconfig["aks"])
    storage.run_job_with_storage(demo, server)
    registry.run_job_from_registry(demo, server, sub, aks_state=local_clusters["aks"])
    jobs.run_job_on_missing_namespace(demo, sub)


def run_demo() -> None:
    # A stop request (Ctrl-C, SIGTERM from a timeout) must still run the cleanup: nothing may be left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    click.echo("Tether demo: the seed scenario on one machine (server on SQLite, two local Kubernetes clusters).")
    with tempfile.TemporaryDirectory(prefix="tether-demo-") as tmp:
        try:
            report = run(Path(tmp))
        except DemoStepFailed as e:
            click.echo(f"\nDEMO FAILED: {e}", err=True)
            sys.exit(1)
    click.echo("\nReport")
    width = max(len(what) for what, _ in report)
    for what, result in report:
        click.echo(f"  {what:<{width}}  {result}")
    click.echo("\nDemo complete; nothing is left running.")
