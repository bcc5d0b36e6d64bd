"""The unmodified azure-ai-ml SDK reads a workspace's datastores: the default ``workspaceblobstore`` on the
workspace's own storage account, and the list; ``--storage-account`` makes an existing account the default."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.e2e.conftest import Cli

_SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from azure.identity import ClientSecretCredential
    from azure.ai.ml import MLClient

    b = json.load(open(sys.argv[1]))
    credential = ClientSecretCredential(
        b["tenant_id"], b["client_id"], b["client_secret"], authority=b["server"], disable_instance_discovery=True
    )
    ml = MLClient(credential, subscription_id=b["subscription_id"], resource_group_name=sys.argv[2],
                  workspace_name=sys.argv[3], cloud="Tether")
    default = ml.datastores.get_default()
    listed = [d.name for d in ml.datastores.list()]
    print(json.dumps({"name": default.name, "type": str(default.type), "account": default.account_name,
                      "container": default.container_name, "listed": listed}))
    """
)


def _datastores(cli: Cli, group: str, workspace: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _SDK_SCRIPT, str(cli.server.data_dir / "bootstrap.json"), group, workspace],
        env=cli.server.cli_env(cli.config_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_a_new_workspace_has_its_default_blob_datastore(cli: Cli) -> None:
    cli.run("group", "create", "-n", "ds-rg", "-l", "westeurope")
    workspace = json.loads(cli.run("ml", "workspace", "create", "-n", "ds-ws", "-g", "ds-rg", "-o", "json").stdout)
    account_id = workspace["properties"]["storageAccount"]
    found = _datastores(cli, "ds-rg", "ds-ws")
    assert found["name"] == "workspaceblobstore"
    assert found["account"] == account_id.rsplit("/", 1)[-1]
    assert str(found["container"]).startswith("azureml-blobstore-")
    assert found["listed"] == ["workspaceblobstore"]


def test_storage_account_option_makes_an_existing_account_the_default(cli: Cli) -> None:
    cli.run("group", "create", "-n", "ds-rg2", "-l", "westeurope")
    account = json.loads(cli.run("storage", "account", "create", "-n", "dsmine01", "-g", "ds-rg2", "-o", "json").stdout)
    cli.run("ml", "workspace", "create", "-n", "ds-ws2", "-g", "ds-rg2", "--storage-account", account["id"])
    found = _datastores(cli, "ds-rg2", "ds-ws2")
    assert found["account"] == "dsmine01"
