"""``make demo``: the main scenario on the embedded default, narrated as the commands a user types.

It starts a real ``tether server`` (SQLite store, HTTPS) in a temporary directory, logs in as the
bootstrap admin, and runs the CLI for each step, printing each command and its answer. It exits
leaving nothing running (the server is stopped in every case, also on Ctrl-C or a failed step).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tether.testing.server_process import ServerProcess


class DemoStepFailed(RuntimeError):
    pass


class Narrator:
    def __init__(self, server: ServerProcess, config_dir: Path) -> None:
        self.server = server
        self.config_dir = config_dir

    def say(self, text: str) -> None:
        print(f"\n# {text}", flush=True)

    def tether(self, *args: str, show: bool = True) -> str:
        print(f"$ tether {shlex.join(args)}", flush=True)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "tether", *args],
            env=self.server.cli_env(self.config_dir),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            raise DemoStepFailed(f"`tether {shlex.join(args)}` failed:\n{result.stderr}")
        if show and result.stdout.strip():
            print(result.stdout.rstrip())
        print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)
        return result.stdout


def run(work_dir: Path) -> None:
    print("Tether demo: a control plane on SQLite with a resource group and an ML workspace.")
    server = ServerProcess.start(work_dir / "server")
    try:
        demo = Narrator(server, work_dir / "config")
        demo.say(f"A server is running at {server.url} (data in {server.data_dir}). Log in as its admin:")
        demo.tether("login", "--bootstrap", str(server.data_dir), "-o", "table")
        demo.say("Create a resource group and a workspace (a long-running operation, finished by the server):")
        demo.tether("group", "create", "--name", "ml-rg", "--location", "westeurope", "-o", "table")
        demo.tether("ml", "workspace", "create", "--name", "ws1", "--resource-group", "ml-rg", "-o", "none")
        demo.say("The workspace, with its system-assigned identity:")
        demo.tether("ml", "workspace", "show", "--name", "ws1", "--resource-group", "ml-rg", "-o", "table")
        demo.tether(
            "ml",
            "workspace",
            "show",
            "-n",
            "ws1",
            "-g",
            "ml-rg",
            "--query",
            "{name: name, location: location, identity: identity.type, principalId: identity.principalId}",
        )
    finally:
        server.stop()
    print("\nDemo complete; the server has been stopped.")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tether-demo-") as tmp:
        try:
            run(Path(tmp))
        except DemoStepFailed as e:
            print(f"\nDEMO FAILED: {e}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
