"""A real ``tether server`` process on a free loopback port, for e2e tests, the demo and benchmarks.

``ServerProcess.start`` launches it, waits until the metadata endpoint answers over HTTPS (trusting
the server's own CA) and reads ``bootstrap.json``; ``stop`` terminates it and waits, so nothing is
left running. If the process dies while starting, the error carries the tail of its log.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

_START_TIMEOUT_S = 60.0


class ServerStartError(RuntimeError):
    """The server process exited or did not become ready; the message holds its log tail."""


@dataclass
class ServerProcess:
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    bootstrap: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.bootstrap["server"])

    @property
    def ca_file(self) -> str:
        return str(self.bootstrap["ca_file"])

    @classmethod
    def start(
        cls, data_dir: Path, *, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> ServerProcess:
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = data_dir / "server.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tether",
                    "server",
                    "--data-dir",
                    str(data_dir),
                    "--port",
                    "0",
                    "--blob-port",
                    "0",
                    *extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        server = cls(data_dir, process, log_path)
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait_ready(self) -> None:
        """Ready when the address in bootstrap.json answers (a restart rewrites a stale address)."""
        deadline = time.monotonic() + _START_TIMEOUT_S
        bootstrap_path = self.data_dir / "bootstrap.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(f"tether server exited with {self.process.returncode}:\n{self._log_tail()}")
            if bootstrap_path.exists():
                try:
                    self.bootstrap = json.loads(bootstrap_path.read_text())
                except json.JSONDecodeError:  # being written
                    self.bootstrap = {}
                if self.bootstrap and self._answers():
                    return
            time.sleep(0.1)
        raise ServerStartError(f"tether server was not ready within {_START_TIMEOUT_S:.0f} s:\n{self._log_tail()}")

    def _answers(self) -> bool:
        try:
            response = httpx2.get(
                f"{self.url}/metadata/endpoints",
                params={"api-version": "2019-05-01"},
                verify=ssl.create_default_context(cafile=self.ca_file),
                timeout=2,
            )
        except (httpx2.HTTPError, OSError):
            return False
        return response.status_code == 200

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and its process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def cli_env(self, config_dir: Path) -> dict[str, str]:
        """Environment for running the ``tether`` CLI (and azure SDKs) against this server."""
        return {
            **os.environ,
            "TETHER_CONFIG_DIR": str(config_dir),
            "REQUESTS_CA_BUNDLE": self.ca_file,
            "SSL_CERT_FILE": self.ca_file,
            "ARM_CLOUD_METADATA_URL": f"{self.url}/metadata/endpoints?api-version=2019-05-01",
        }
