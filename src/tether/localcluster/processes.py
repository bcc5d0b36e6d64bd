"""Start, find and stop the local cluster's processes: each in its own session, tracked by a pid file.

Every component is spawned with ``setsid`` (its pid is also its process-group id), stdin from
``/dev/null`` and stdout+stderr into its own log file, and its pid is written to a pid file. That lets
``tether local-cluster up`` return while the processes keep running, and lets a later ``down`` (another
process) signal the whole group. Hazards handled here:

* pid reuse: a pid from a pid file is only trusted while ``/proc/<pid>/cmdline`` still mentions the
  cluster's state directory (every component's arguments do);
* zombies: when the caller is the parent (fixtures), dead children are reaped with ``waitpid`` so they
  do not look alive; when it is not (the CLI's ``down``), init should reap them — and where init does
  not (some container/VM inits), a zombie is recognised from ``/proc/<pid>/stat`` and counted as dead;
* no ``subprocess.Popen`` objects are kept, so nothing warns about a child "still running" when the CLI
  exits on purpose.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tether.localcluster.errors import ComponentFailed

_LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class ProcessInfo:
    """What is known about one component's process."""

    component: str
    pid: int | None
    alive: bool
    exit_status: str | None = None


def spawn(
    component: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_file: Path,
    pid_file: Path,
) -> int:
    """Start ``argv`` detached in a new session, logging to ``log_file``; write and return its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    file_actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        pid = os.posix_spawn(argv[0], list(argv), dict(env), file_actions=file_actions, setsid=True)
    except OSError as e:
        raise ComponentFailed(f"could not start {component} ({argv[0]}): {e}") from e
    pid_file.write_text(f"{pid}\n")
    return pid


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file``, or None when there is none (or it is garbage)."""
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _reap(pid: int) -> str | None:
    """If ``pid`` is our exited child, reap it and describe how it ended; else None."""
    try:
        wpid, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if wpid != pid:
        return None
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _cmdline_mentions(pid: int, marker: str) -> bool:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # Empty while the process is still inside execve (posix_spawn returns before the new image's
    # arguments are mapped): it is the process we just started, so it counts as ours.
    return not raw or marker.encode() in raw


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.rpartition(")")[2].split()[0:1] == ["Z"]


def probe(component: str, pid_file: Path, *, marker: str) -> ProcessInfo:
    """Whether the process in ``pid_file`` runs and still belongs to this cluster (``marker`` in argv)."""
    pid = read_pid(pid_file)
    if pid is None:
        return ProcessInfo(component, None, alive=False)
    ended = _reap(pid)
    if ended is not None:
        return ProcessInfo(component, pid, alive=False, exit_status=ended)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ProcessInfo(component, pid, alive=False)
    except PermissionError:
        pass
    alive = _cmdline_mentions(pid, marker) and not _is_zombie(pid)
    return ProcessInfo(component, pid, alive=alive)


def stop(component: str, pid_file: Path, *, marker: str, grace_seconds: float = 10.0) -> None:
    """SIGTERM the component's process group, SIGKILL it after ``grace_seconds``; remove the pid file."""
    info = probe(component, pid_file, marker=marker)
    if info.alive and info.pid is not None:
        _signal_group(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and probe(component, pid_file, marker=marker).alive:
            time.sleep(0.05)
        if probe(component, pid_file, marker=marker).alive:
            _signal_group(info.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and probe(component, pid_file, marker=marker).alive:
                time.sleep(0.05)
        # The leader is gone; sweep any child it left in its group (none expected). Only done right after
        # we verified the group is ours, so a recycled pid cannot be hit.
        _signal_group(info.pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def log_tail(log_file: Path, *, lines: int = _LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a component's log (or a note that there is none)."""
    try:
        with log_file.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return f"(no log at {log_file})"
    return "\n".join(text.splitlines()[-lines:])
