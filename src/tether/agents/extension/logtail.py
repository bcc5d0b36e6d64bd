"""The last lines a failed job's pods printed, appended to the job's failure message.

On a node that runs containers, "exit code 3" alone sends the user off to find the log; the last
lines usually say why. Read through ``pods/log`` (``tailLines``), bounded in lines and characters; a
pod whose log cannot be read (deleted, kwok without a log, the node gone) just adds nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import httpx2
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError

from tether.agents.extension.job_status import FAILED, PodView, Verdict

TAIL_LINES = 10
_MAX_CHARS = 2000


async def _tail(client: AsyncClient, name: str, namespace: str) -> list[str]:
    lines: list[str] = []
    with contextlib.suppress(ApiError, httpx2.HTTPError):
        async for line in client.log(name, namespace=namespace, tail_lines=TAIL_LINES):
            lines.append(line.rstrip("\n"))
    return [line for line in lines if line.strip()]


async def with_log_tails(client: AsyncClient, namespace: str, views: Sequence[PodView], verdict: Verdict) -> Verdict:
    """``verdict`` with the last log lines of each failed pod that has an exit code."""
    parts = [verdict.message]
    for view in views:
        if view.phase != FAILED or view.exit_code is None:
            continue
        lines = await _tail(client, view.name, namespace)
        if lines:
            parts.append(f"last lines of {view.name}:\n" + "\n".join(lines)[-_MAX_CHARS:])
    return Verdict(verdict.phase, verdict.reason, "\n".join(parts)) if len(parts) > 1 else verdict
