"""Agents run as local processes next to a cluster whose nodes are simulated (the local cluster).

In a real cluster the connect agent and the ML extension's operator run as Deployments; on a
cluster without real nodes they run here instead, detached from the CLI, with their pid and log under
``$TETHER_CONFIG_DIR/agents/<name>/``. ``stop`` ends the whole process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click


def agent_dir(config_dir: Path, name: str) -> Path:
    return config_dir / "agents" / name


def start(config_dir: Path, name: str, args: list[str]) -> Path:
    """Start ``tether <args>`` detached; returns its directory (``agent.log``, ``agent.pid``). Stops a previous one."""
    stop(config_dir, name)
    directory = agent_dir(config_dir, name)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (directory / "agent.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tether", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (directory / "agent.pid").write_text(str(process.pid))
    time.sleep(0.3)
    if process.poll() is not None:
        tail = (directory / "agent.log").read_text(errors="replace").splitlines()[-15:]
        raise click.ClickException(f"the agent '{name}' exited at once ({process.returncode}):\n" + "\n".join(tail))
    return directory


def stop(config_dir: Path, name: str) -> bool:
    """Stop the agent if one runs; True if there was one."""
    pid_file = agent_dir(config_dir, name) / "agent.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        if not _alive(pid):
            return True
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    return True


def stop_all(config_dir: Path) -> list[str]:
    """Stop every local agent started from this config dir; returns the names of those that ran."""
    root = config_dir / "agents"
    stopped = []
    for directory in sorted(root.iterdir()) if root.exists() else []:
        if stop(config_dir, directory.name):
            stopped.append(directory.name)
    return stopped


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped (an exited orphan of the CLI can linger as one)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
