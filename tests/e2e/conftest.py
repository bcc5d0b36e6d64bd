"""E2E fixtures: one real ``tether server`` process per session, and a CLI runner logged in to it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tether.server_process import ServerProcess


@pytest.fixture(scope="session")
def server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess.start(tmp_path_factory.mktemp("server"))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Cli:
    """Runs ``tether`` as a user would, in its own config dir."""

    server: ServerProcess
    config_dir: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "tether", *args],
            env=self.server.cli_env(self.config_dir),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tether {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result


@pytest.fixture
def cli(server_process: ServerProcess, tmp_path: Path) -> Cli:
    runner = Cli(server_process, tmp_path / "config")
    runner.run("login", "--bootstrap", str(server_process.data_dir))
    return runner
