"""What the benchmarks share: percentiles, a summary line, a local cluster (or a given one), the CLI.

Imported by the bench scripts as ``_common`` (they run as ``python bench/<name>.py``).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tether.cli.local_agents import stop_all
from tether.localcluster import LocalClusterSpec, kubeversions, start_cluster, stop_cluster
from tether.server_process import ServerProcess


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(label: str, values_ms: list[float], *, width: int = 42, digits: int = 1) -> str:
    p50, p99 = percentile(values_ms, 0.5), percentile(values_ms, 0.99)
    return f"{label:<{width}} p50 {p50:7.{digits}f} ms   p99 {p99:7.{digits}f} ms"


@asynccontextmanager
async def local_or_given_cluster(
    kubeconfig: Path | None, *, name: str, cpu_nodes: int = 2, gpu_nodes: int = 1
) -> AsyncIterator[Path]:
    """The given cluster's kubeconfig, or a fresh local cluster's, stopped when the block ends."""
    if kubeconfig is not None:
        yield kubeconfig
        return
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    with tempfile.TemporaryDirectory(prefix=f"tether-{name}-cluster-") as state:
        spec = LocalClusterSpec(
            state_dir=Path(state),
            bin_dir=kubeversions.default_bin_dir(cache),
            name=name,
            cpu_nodes=cpu_nodes,
            gpu_nodes=gpu_nodes,
        )
        cluster = await start_cluster(spec)
        try:
            yield cluster.kubeconfig_path
        finally:
            await asyncio.to_thread(stop_cluster, Path(state))


class Cli:
    """``tether`` as a user runs it, logged in to the bench's server with its own config dir."""

    def __init__(self, server: ServerProcess, config_dir: Path) -> None:
        self.env = server.cli_env(config_dir)
        self.config_dir = config_dir

    def __call__(self, line: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "tether", *shlex.split(line)],
            env=self.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tether {line} failed:\n{result.stderr}")
        return result.stdout

    def stop_agents(self) -> None:
        """Stop the connect agents and operators the CLI started, while the cluster is still up."""
        stop_all(self.config_dir)
