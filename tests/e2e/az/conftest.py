"""The az e2e tier: the unmodified ``azure-cli`` from PyPI against one Tether server process.

``tools/az.sh`` installs azure-cli (pinned) into its own virtual environment under
``~/.cache/tether/az/<version>`` on first use. The module gets ONE server process and ONE az config
directory (``AZURE_CONFIG_DIR`` in a temp dir): ``az cloud register`` pointing every endpoint at the
server through metadata discovery, ``core.instance_discovery=false`` (MSAL cannot ask Azure's public
instance discovery, and Tether's network is loopback only), ``REQUESTS_CA_BUNDLE`` at Tether's CA,
and ``az login --service-principal`` as the bootstrap admin. Tests then run az as a user would and
assert its exit code and output.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tether.server_process import ServerProcess

_REPO = Path(__file__).resolve().parents[3]


@dataclass
class Az:
    """Runs the real ``az`` in this module's config dir against the server."""

    executable: str
    server: ServerProcess
    config_dir: Path

    @property
    def bootstrap(self) -> dict[str, Any]:
        return self.server.bootstrap

    @property
    def subscription(self) -> str:
        return str(self.bootstrap["subscription_id"])

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AZURE_CONFIG_DIR": str(self.config_dir),
            "REQUESTS_CA_BUNDLE": self.server.ca_file,
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_NO_COLOR": "true",
            "AZURE_CORE_SURVEY_MESSAGE": "false",
        }

    def run(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.executable, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != expect:
            raise AssertionError(
                f"az {' '.join(args)} exited {result.returncode}, expected {expect}:\n{result.stderr}\n{result.stdout}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


def az_executable() -> str:
    """The cached az (installing it the first time); ``TETHER_AZ`` names another."""
    if explicit := os.environ.get("TETHER_AZ"):
        return explicit
    result = subprocess.run([str(_REPO / "tools" / "az.sh")], capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"tools/az.sh failed ({result.returncode}):\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def az(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Az]:
    executable = az_executable()
    server = ServerProcess.start(tmp_path_factory.mktemp("az-server"))
    try:
        runner = Az(executable, server, tmp_path_factory.mktemp("az-config"))
        b = server.bootstrap
        # No trailing slash: az appends "/metadata/endpoints?api-version=2022-09-01" to this URL.
        runner.run("cloud", "register", "-n", "Tether", "--endpoint-resource-manager", server.url, "-o", "none")
        runner.run("cloud", "set", "-n", "Tether", "-o", "none")
        runner.run("config", "set", "core.instance_discovery=false", "-o", "none")
        runner.run(
            # "--password=": a secret may start with '-', which az would read as an option.
            "login", "--service-principal", "-u", b["client_id"], f"--password={b['client_secret']}",
            "--tenant", b["tenant_id"], "-o", "none",
        )  # fmt: skip
        yield runner
    finally:
        server.stop()
