"""The unmodified azure-ai-ml SDK reads a workspace's datastores: the default ``workspaceblobstore`` on the
workspace's own storage account, and the list; ``--storage-account`` makes an existing account the default;
the SDK downloads from it at the virtual-host URL it builds (as ``ml.jobs.download`` does)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from tests.e2e.conftest import Cli
from tether.settings import StorageSettings
from tether.testing.hosts_file import loopback_hosts

# The SDK's client for the workspace (argv: bootstrap.json, resource group, workspace, ...).
_CLIENT = textwrap.dedent(
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
    """
)

_SDK_SCRIPT = _CLIENT + textwrap.dedent(
    """
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


_DOWNLOAD_SCRIPT = _CLIENT + textwrap.dedent(
    """
    from azure.ai.ml._artifacts._artifact_utilities import aml_datastore_path_exists, download_artifact_from_aml_uri

    # what ml.jobs.download does for an output that run history does not list: probe, then download
    uri = "azureml://datastores/workspaceblobstore/paths/azureml/dsjob/model/"
    found = aml_datastore_path_exists(uri, ml.datastores)
    missing = aml_datastore_path_exists("azureml://datastores/workspaceblobstore/paths/azureml/nojob/", ml.datastores)
    download_artifact_from_aml_uri(uri, sys.argv[4], ml.datastores)
    print(json.dumps({"found": found, "missing": missing}))
    """
)


def test_the_sdk_reads_the_default_datastore_at_its_virtual_host_url(cli: Cli, tmp_path: Path) -> None:
    """azure-ai-ml builds ``https://<account>.blob.<cloud storage suffix>``: Tether's metadata and blob endpoint
    serve it; the name resolves through an /etc/hosts line (needs root), never DNS."""
    cli.run("group", "create", "-n", "ds-rg3", "-l", "westeurope")
    cli.run("ml", "workspace", "create", "-n", "ds-ws3", "-g", "ds-rg3")
    found = _datastores(cli, "ds-rg3", "ds-ws3")
    account, container = str(found["account"]), str(found["container"])
    shown = json.loads(cli.run("storage", "account", "show", "-n", account, "-g", "ds-rg3", "-o", "json").stdout)
    keys = json.loads(cli.run("storage", "account", "keys", "list", "-n", account, "-g", "ds-rg3", "-o", "json").stdout)
    path_style = BlobServiceClient(  # as the job's pod writes its output: path-style, on 127.0.0.1
        shown["properties"]["primaryEndpoints"]["blob"],
        credential={"account_name": account, "account_key": keys[0]["value"]},
        connection_verify=cli.server.ca_file,
    )
    with contextlib.suppress(ResourceExistsError):  # made on the datastore's first GET, which may not have come
        path_style.create_container(container)
    path_style.get_blob_client(container, "azureml/dsjob/model/model.txt").upload_blob(b"weights\n")

    with loopback_hosts([account + StorageSettings().virtual_host_suffix()]):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                _DOWNLOAD_SCRIPT,
                str(cli.server.data_dir / "bootstrap.json"),
                "ds-rg3",
                "ds-ws3",
                str(tmp_path / "out"),
            ],
            env=cli.server.cli_env(cli.config_dir),
            capture_output=True,
            text=True,
            timeout=180,
        )

    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"found": True, "missing": False}
    [written] = (tmp_path / "out").rglob("model.txt")
    assert written.read_bytes() == b"weights\n"
