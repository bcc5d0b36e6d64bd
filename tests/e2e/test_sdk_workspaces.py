"""Workspaces through the unmodified azure-ai-ml SDK: ``begin_create`` (an ARM template deployment),
``begin_update`` (PATCH), ``compute.list_sizes`` / ``list_usage``, and a client without a resource group.

No cluster: this is the control plane's wire compatibility. The SDK runs in a child process (it reads its
cloud from the environment at import time); each step prints what the SDK returned or raised.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

from tests.e2e.conftest import Cli

_SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from azure.identity import ClientSecretCredential
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Workspace

    b = json.load(open(sys.argv[1]))
    credential = ClientSecretCredential(
        b["tenant_id"], b["client_id"], b["client_secret"], authority=b["server"], disable_instance_discovery=True
    )
    group = sys.argv[2] or None
    ml = MLClient(credential, b["subscription_id"], group, workspace_name=sys.argv[3] or None, cloud="Tether")

    def summary(w):
        return {"name": w.name, "location": w.location, "display_name": w.display_name,
                "description": w.description, "tags": w.tags, "identity": w.identity.type if w.identity else None,
                "storage_account": w.storage_account, "id": w.id}

    def run(step):
        op = step["op"]
        if op == "create":
            w = Workspace(name=step["name"], location="westeurope", description=step.get("description"),
                          tags=step.get("tags"))
            return summary(ml.workspaces.begin_create(w).result())
        if op == "update":
            w = ml.workspaces.get(step["name"])
            w.description = step.get("description", w.description)
            w.display_name = step.get("display_name", w.display_name)
            w.tags = {**(w.tags or {}), **step.get("tags", {})}
            if "public_network_access" in step:
                w.public_network_access = step["public_network_access"]
            return summary(ml.workspaces.begin_update(w).result())
        if op == "get":
            return summary(ml.workspaces.get(step["name"]))
        if op == "list":
            return [w.name for w in ml.workspaces.list()]
        if op == "sizes":
            return [s.name for s in ml.compute.list_sizes(location=step.get("location"))]
        if op == "usage":
            return [u.name.value if hasattr(u.name, "value") else str(u.name)
                    for u in ml.compute.list_usage(location=step.get("location"))]
        if op == "computes":
            return [c.name for c in ml.compute.list()]
        raise ValueError(op)

    results = []
    for step in json.loads(sys.argv[4]):
        try:
            results.append({"ok": run(step)})
        except Exception as e:
            error = getattr(e, "error", None)
            results.append({"error": type(e).__name__, "code": getattr(error, "code", None), "message": str(e)})
    print(json.dumps(results))
    """
)


def sdk(cli: Cli, *steps: dict[str, Any], group: str = "", workspace: str = "") -> list[dict[str, Any]]:
    bootstrap = str(cli.server.data_dir / "bootstrap.json")
    result = subprocess.run(
        [sys.executable, "-c", _SDK_SCRIPT, bootstrap, group, workspace, json.dumps(list(steps))],
        env=cli.server.cli_env(cli.config_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    results: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return results


def _ok(result: dict[str, Any]) -> Any:
    assert "error" not in result, result
    return result["ok"]


def test_begin_create_deploys_the_workspace_then_get_list_and_idempotent_create(cli: Cli) -> None:
    cli.run("group", "create", "-n", "sdkw-rg", "-l", "westeurope")

    created, got, listed, again = sdk(
        cli,
        {"op": "create", "name": "sdkw-ws", "description": "made by the SDK", "tags": {"team": "a"}},
        {"op": "get", "name": "sdkw-ws"},
        {"op": "list"},
        {"op": "create", "name": "sdkw-ws", "tags": {"more": "b"}},  # exists: the SDK updates it (PATCH)
        group="sdkw-rg",
    )

    created = _ok(created)
    assert created["name"] == "sdkw-ws"
    assert created["location"] == "westeurope"
    assert created["description"] == "made by the SDK"
    assert created["tags"]["team"] == "a"
    assert created["tags"]["createdByToolkit"].startswith("sdk-v2-")
    assert created["identity"] == "system_assigned"
    assert created["storage_account"]  # Tether's default storage, created with the workspace
    assert _ok(got) == created
    assert _ok(listed) == ["sdkw-ws"]
    assert _ok(again)["tags"] == {**created["tags"], "more": "b"}
    cli_view = json.loads(cli.run("ml", "workspace", "show", "-n", "sdkw-ws", "-g", "sdkw-rg", "-o", "json").stdout)
    assert cli_view["properties"]["provisioningState"] == "Succeeded"


def test_begin_update_patches_description_and_tags_and_refuses_what_it_cannot_honour(cli: Cli) -> None:
    cli.run("group", "create", "-n", "sdku-rg", "-l", "westeurope")
    cli.run("ml", "workspace", "create", "-n", "sdku-ws", "-g", "sdku-rg")

    updated, got, refused = sdk(
        cli,
        {"op": "update", "name": "sdku-ws", "description": "new words", "display_name": "Team A", "tags": {"x": "1"}},
        {"op": "get", "name": "sdku-ws"},
        {"op": "update", "name": "sdku-ws", "public_network_access": "Disabled"},
        group="sdku-rg",
    )

    assert _ok(updated)["description"] == "new words"
    assert _ok(updated)["display_name"] == "Team A"
    assert _ok(updated)["tags"] == {"x": "1"}
    assert _ok(got) == _ok(updated)
    assert refused["error"] == "HttpResponseError", refused
    assert refused["code"] == "InvalidRequestContent"
    assert "publicNetworkAccess" in refused["message"]


def test_list_sizes_and_usage_are_empty_lists(cli: Cli) -> None:
    cli.run("group", "create", "-n", "sdks-rg", "-l", "westeurope")
    cli.run("ml", "workspace", "create", "-n", "sdks-ws", "-g", "sdks-rg")

    sizes, usage, sizes_elsewhere = sdk(
        cli,
        {"op": "sizes"},
        {"op": "usage"},
        {"op": "sizes", "location": "eastus"},
        group="sdks-rg",
        workspace="sdks-ws",
    )

    assert _ok(sizes) == []
    assert _ok(usage) == []
    assert _ok(sizes_elsewhere) == []


def test_a_client_without_resource_group_gets_resource_group_not_found(cli: Cli) -> None:
    workspaces, computes = sdk(cli, {"op": "list"}, {"op": "computes"}, group="", workspace="any-ws")

    for refused in (workspaces, computes):
        assert refused["error"] in ("ResourceNotFoundError", "HttpResponseError"), refused
        assert refused["code"] == "ResourceGroupNotFound", refused
        assert "'None'" in refused["message"]
