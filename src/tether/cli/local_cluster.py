"""``tether local-cluster``: the real local Kubernetes cluster for tests and the demo.

This is an entry point: it reads ``$XDG_STATE_HOME``/``$XDG_CACHE_HOME``/``$HOME`` to find the default
state and binaries directories and passes them to :mod:`tether.localcluster`. ``up`` returns once
the cluster is ready and leaves its processes running (detached, one process group each); ``down``
stops them. Expected failures (missing binaries, a component that died) print one message to stderr
and exit 1.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from tether.errors import TetherError
from tether.localcluster import (
    DEFAULT_CLUSTER_NAME,
    LocalClusterSpec,
    default_state_dir,
    get_cluster_status,
    kubeversions,
    load_cluster,
    start_cluster,
    stop_cluster,
)
from tether.localcluster.realnode import missing_prerequisite, trust_registry

P = ParamSpec("P")
R = TypeVar("R")


def _xdg_dir(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else Path.home() / fallback


def _state_dir(name: str, state_dir: Path | None) -> Path:
    return state_dir or default_state_dir(_xdg_dir("XDG_STATE_HOME", ".local/state"), name)


def _reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn Tether's typed errors into a message on stderr and exit status 1 (no traceback)."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except TetherError as e:
            click.echo(f"error: {e.message}", err=True)
            sys.exit(1)

    return wrapper


_name_option = click.option(
    "--name", default=DEFAULT_CLUSTER_NAME, show_default=True, help="Name of the local cluster."
)
_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State directory (default: ${XDG_STATE_HOME:-~/.local/state}/tether/local-clusters/NAME).",
)


@click.group("local-cluster")
def local_cluster() -> None:
    """Run a real local Kubernetes cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok)."""


@local_cluster.command("up")
@_name_option
@click.option("--nodes", default=2, show_default=True, type=click.IntRange(0), help="Simulated CPU nodes.")
@click.option("--gpu-nodes", default=1, show_default=True, type=click.IntRange(0), help="Simulated GPU nodes.")
@_state_dir_option
@click.option(
    "--bin-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory with the binaries (default: the cache tools/kube/build.sh fills).",
)
@click.option(
    "--real-nodes",
    default=1,
    show_default=True,
    type=click.IntRange(0, 1),
    help="Real nodes (kubelet + containerd; root; one per host) that run containers; 0 for kwok only.",
)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for readiness.")
@_reports_errors
def up(
    name: str, nodes: int, gpu_nodes: int, state_dir: Path | None, bin_dir: Path | None, real_nodes: int, timeout: float
) -> None:
    """Start the cluster (or converge a running one) and wait until it is ready."""
    cache = _xdg_dir("XDG_CACHE_HOME", ".cache")
    node_bin_dir, images_dir = kubeversions.default_node_bin_dir(cache), kubeversions.default_images_dir(cache)
    reason = missing_prerequisite(bin_dir=node_bin_dir, images_dir=images_dir) if real_nodes else None
    if reason:
        click.echo(f"no real node: {reason}; carrying on with kwok nodes only", err=True)
        real_nodes = 0
    spec = LocalClusterSpec(
        state_dir=_state_dir(name, state_dir),
        bin_dir=bin_dir or kubeversions.default_bin_dir(cache),
        name=name,
        cpu_nodes=nodes,
        gpu_nodes=gpu_nodes,
        ready_timeout=timeout,
        real_nodes=real_nodes,
        node_bin_dir=node_bin_dir,
        images_dir=images_dir,
    )
    started = time.monotonic()
    cluster = asyncio.run(start_cluster(spec))
    click.echo(f"local cluster {name!r} ready in {time.monotonic() - started:.1f} s")
    click.echo(f"  API server:  {cluster.server_url}")
    click.echo(f"  kubeconfig:  {cluster.kubeconfig_path}")
    real = f" + {real_nodes} real (runs containers: `tether local-cluster images`)" if real_nodes else ""
    click.echo(f"  nodes:       {nodes} CPU, {gpu_nodes} GPU (kwok){real}")
    click.echo(f"  logs:        {cluster.paths.logs}")
    click.echo(f"  stop with:   tether local-cluster down --name {name}")


@local_cluster.command("down")
@_name_option
@_state_dir_option
@click.option("--purge", is_flag=True, help="Also delete the state directory (certificates, etcd data, logs).")
@_reports_errors
def down(name: str, state_dir: Path | None, purge: bool) -> None:
    """Stop every process of the cluster; keep its state unless --purge."""
    directory = _state_dir(name, state_dir)
    if not directory.is_dir():
        click.echo(f"no local cluster {name!r} (nothing in {directory})")
        return
    stop_cluster(directory, purge=purge)
    click.echo(f"local cluster {name!r} stopped" + (" and purged" if purge else f"; state kept in {directory}"))


@local_cluster.command("status")
@_name_option
@_state_dir_option
@_reports_errors
def status(name: str, state_dir: Path | None) -> None:
    """Show each component's pid and whether it runs, and the API server URL."""
    directory = _state_dir(name, state_dir)
    if not directory.is_dir():
        click.echo(f"no local cluster {name!r} (nothing in {directory})")
        return
    info = get_cluster_status(directory)
    state = "running" if info.running else "stopped" if info.stopped else "degraded"
    click.echo(f"local cluster {info.name!r}: {state}")
    click.echo(f"  API server:  {info.server_url or '-'}")
    click.echo(f"  state dir:   {directory}")
    for component in info.components:
        pid = str(component.pid) if component.pid is not None else "-"
        click.echo(f"  {component.component:<24} pid {pid:<8} {'alive' if component.alive else 'not running'}")


@local_cluster.command("images")
def images() -> None:
    """Print the references of the locally built images, base image first (for jobs' `image:`)."""
    directory = kubeversions.default_images_dir(_xdg_dir("XDG_CACHE_HOME", ".cache"))
    references = kubeversions.image_references(directory)
    if not references:
        click.echo(f"error: no locally built images in {directory}; run `make kube` (tools/images/build.sh)", err=True)
        sys.exit(1)
    for reference in references:
        click.echo(reference)


@local_cluster.command("trust-registry")
@click.argument("login_server")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The CA the login server's certificate chains to (the Tether server's ca.pem).",
)
@_name_option
@_state_dir_option
@_reports_errors
def trust_registry_command(login_server: str, ca_file: Path, name: str, state_dir: Path | None) -> None:
    """Let the real node pull from a Tether registry (LOGIN_SERVER is its 127.0.0.1:<port>)."""
    cluster = load_cluster(_state_dir(name, state_dir))
    hosts = trust_registry(cluster.paths, login_server, ca_pem=ca_file.read_text())
    click.echo(f"The real node now pulls from {login_server} ({hosts})")


@local_cluster.command("kubeconfig")
@_name_option
@_state_dir_option
@click.option("--content", is_flag=True, help="Print the kubeconfig itself instead of its path.")
@_reports_errors
def kubeconfig(name: str, state_dir: Path | None, content: bool) -> None:
    """Print the admin kubeconfig's path (or, with --content, the file)."""
    cluster = load_cluster(_state_dir(name, state_dir))
    if content:
        click.echo(cluster.kubeconfig_path.read_text(), nl=False)
    else:
        click.echo(str(cluster.kubeconfig_path))
