"""What the benchmarks share: percentiles, a summary line, a local cluster (or a given one), the CLI, and
the result file.

Imported by the bench scripts as ``_common`` (they run as ``python bench/<name>.py``). With
``--json-out FILE`` a script appends its figures to FILE (created if missing): one JSON object whose
``figures`` list holds, per figure, its value, unit, goal, whether it was met, the command that measured
it, the commit and the time (``make bench`` gives every script the same file; ``bench/report.py`` reads
it). Appending reads and rewrites the whole file: one bench at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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


# --- the result file ------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def verdict(value: float, goal: float, *, better: Literal["lower", "higher"] = "lower") -> str:
    """``met`` or ``MISSED``: the word each benchmark prints beside a figure that has a goal."""
    return "met" if (value <= goal if better == "lower" else value >= goal) else "MISSED"


def add_json_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json-out", type=Path, default=None, help="append this run's figures to this JSON file")


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return result.stdout.strip()


@dataclass
class Results:
    """The figures of one benchmark run, written to the result file by ``save`` (nothing without a path)."""

    benchmark: str
    path: Path | None
    figures: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        figure: str,
        value: float,
        unit: str,
        *,
        goal: float | None = None,
        better: Literal["lower", "higher"] = "lower",
        samples: list[float] | None = None,
        note: str = "",
    ) -> None:
        """One figure; ``goal`` is its threshold (met when ``value`` is at or on the ``better`` side of it).
        ``samples`` (same unit) are kept for the latency chart."""
        met = None if goal is None else (value <= goal if better == "lower" else value >= goal)
        entry: dict[str, Any] = {"benchmark": self.benchmark, "figure": figure, "value": value, "unit": unit}
        if goal is not None:
            entry |= {"goal": f"{'<=' if better == 'lower' else '>='} {goal:g}", "goal_value": goal, "better": better}
        entry["met"] = met
        if note:
            entry["note"] = note
        if samples is not None:
            entry["samples"] = [round(v, 3) for v in samples]
        self.figures.append(entry)

    def save(self) -> None:
        if self.path is None:
            return
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        command = " ".join([".venv/bin/python", os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])
        commit = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
        document: dict[str, Any] = {"format": 1, "figures": []}
        if self.path.exists():
            document = json.loads(self.path.read_text())
        document["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}"
        load = os.getloadavg()[0]  # a busy machine makes absolute figures meaningless: say so in the file
        document.setdefault("load_averages", []).append(round(load, 2))
        for entry in self.figures:
            document["figures"].append(
                {**entry, "command": command, "commit": commit, "dirty": dirty, "timestamp": now}
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(document, indent=1) + "\n")
