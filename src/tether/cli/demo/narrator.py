"""Runs ``tether`` commands as a user would type them, printing each command and what it answered."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from tether.server_process import ServerProcess


class DemoStepFailed(RuntimeError):
    pass


@dataclass
class Narrator:
    server: ServerProcess
    config_dir: str
    report: list[tuple[str, str]] = field(default_factory=list)

    def say(self, text: str) -> None:
        click.echo(f"\n# {text}")

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.report.append((what, ("PASS" if ok else "FAIL") + (f"  {detail}" if detail else "")))
        if not ok:
            raise DemoStepFailed(f"{what}: {detail}")

    def tether(self, *args: str, show: bool = True, expect_failure: bool = False, timeout_s: float = 180) -> str:
        click.echo(f"$ tether {shlex.join(args)}")
        started = time.perf_counter()
        try:
            result = subprocess.run(
                [sys.executable, "-m", "tether", *args],
                env=self.server.cli_env(Path(self.config_dir)),
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                check=False,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired as e:
            raise DemoStepFailed(f"`tether {shlex.join(args)}` did not finish within {timeout_s:.0f} s") from e
        failed = result.returncode != 0
        if failed != expect_failure:
            raise DemoStepFailed(f"`tether {shlex.join(args)}` exited {result.returncode}:\n{result.stderr}")
        if show:
            for stream in (result.stdout, result.stderr):
                if stream.strip():
                    click.echo(stream.rstrip())
        click.echo(f"  ({time.perf_counter() - started:.1f} s)")
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.tether(*args, "-o", "json", show=False))
