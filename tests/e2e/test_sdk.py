"""The unmodified azure-ai-ml SDK against a running Tether server (B8, wire compatibility)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.e2e.conftest import Cli

# The SDK runs in a child process: it reads its cloud from the environment at import time.
_SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from azure.identity import ClientSecretCredential
    from azure.ai.ml import MLClient

    b = json.load(open(sys.argv[1]))
    credential = ClientSecretCredential(
        b["tenant_id"], b["client_id"], b["client_secret"], authority=b["server"], disable_instance_discovery=True
    )
    ml = MLClient(credential, subscription_id=b["subscription_id"], resource_group_name=sys.argv[2], cloud="Tether")
    ws = ml.workspaces.get(sys.argv[3])
    print(json.dumps({"name": ws.name, "location": ws.location, "id": ws.id}))
    """
)


def test_azure_ai_ml_gets_the_workspace(cli: Cli) -> None:
    cli.run("group", "create", "-n", "sdk-rg", "-l", "westeurope")
    cli.run("ml", "workspace", "create", "-n", "sdk-ws", "-g", "sdk-rg")
    bootstrap = str(cli.server.data_dir / "bootstrap.json")

    result = subprocess.run(
        [sys.executable, "-c", _SDK_SCRIPT, bootstrap, "sdk-rg", "sdk-ws"],
        env=cli.server.cli_env(cli.config_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stderr
    assert '"name": "sdk-ws"' in result.stdout
    assert '"location": "westeurope"' in result.stdout
    assert "/resourceGroups/sdk-rg/providers/Microsoft.MachineLearningServices/workspaces/sdk-ws" in result.stdout
