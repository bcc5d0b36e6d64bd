"""``tether acr`` against a real server process, with skopeo (a real OCI client) using ``tether acr login``'s output.

The image is the local cluster's pause image (``tools/images/build.sh``), a small docker archive.
The bootstrap admin (Owner on the subscription) pushes and pulls; a request without credentials is
refused by the registry.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tether.client.registry_import import local_images_dir
from tether.testing.registry import ensure_registry_tools

PAUSE = "tether.local/pause:3.10"


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    ensure_registry_tools()
    if not (local_images_dir() / "pause.tar").exists():
        subprocess.run([str(Path(__file__).resolve().parents[2] / "tools" / "images" / "build.sh")], check=True)


def test_login_then_skopeo_pushes_and_pulls_and_acr_lists(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.run("group", "create", "-n", "acr-rg", "-l", "westeurope")
    created = json.loads(cli.run("acr", "create", "-n", "acre2e", "-g", "acr-rg", "-o", "json").stdout)
    login = created["properties"]["loginServer"]
    assert login.startswith("127.0.0.1:")
    shown = json.loads(cli.run("acr", "show", "-n", "acre2e", "-o", "json").stdout)
    assert shown["id"] == created["id"]

    docker_config = tmp_path / "docker"
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))  # the CLI runs with os.environ
    cli.run("acr", "login", "-n", "acre2e")
    config = json.loads((docker_config / "config.json").read_text())
    assert config["auths"][login]["identitytoken"]

    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copyfile(cli.server.ca_file, certs / "ca.crt")
    auth = ("--authfile", str(docker_config / "config.json"))
    pushed = _skopeo(
        "copy", "--dest-authfile", auth[1], "--dest-cert-dir", str(certs),
        f"docker-archive:{local_images_dir() / 'pause.tar'}", f"docker://{login}/tools/pause:3.10",
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    inspected = _skopeo("inspect", *auth, "--cert-dir", str(certs), f"docker://{login}/tools/pause:3.10")
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Layers"]

    anonymous = _skopeo("inspect", "--no-creds", "--cert-dir", str(certs), f"docker://{login}/tools/pause:3.10")
    assert anonymous.returncode != 0
    assert "unauthorized" in anonymous.stderr.lower() or "401" in anonymous.stderr

    cli.run("acr", "import", "-n", "acre2e", "--source", PAUSE, "--image", "imported/pause:v1")
    listed = json.loads(cli.run("acr", "repository", "list", "-n", "acre2e", "-o", "json").stdout)
    assert listed == ["imported/pause", "tools/pause"]
    tags = json.loads(
        cli.run("acr", "repository", "show-tags", "-n", "acre2e", "--repository", "imported/pause", "-o", "json").stdout
    )
    assert tags == ["v1"]

    cli.run("acr", "delete", "-n", "acre2e", "-y")
    gone = cli.run("acr", "show", "-n", "acre2e", check=False)
    assert gone.returncode != 0
    assert "tether acr create" in gone.stderr


def test_import_refuses_an_unknown_source(cli: Cli) -> None:
    cli.run("group", "create", "-n", "acr-rg2", "-l", "westeurope")
    cli.run("acr", "create", "-n", "acrbadsource", "-g", "acr-rg2")
    refused = cli.run(
        "acr", "import", "-n", "acrbadsource", "--source", "/nowhere/at/all", "--image", "x:1", check=False
    )
    assert refused.returncode != 0
    assert "not an OCI layout directory" in refused.stderr
