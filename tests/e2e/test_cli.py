"""The tether CLI, black box, against a running server: what a platform engineer types."""

from __future__ import annotations

import json

from tests.e2e.conftest import Cli


def test_group_and_workspace_lifecycle(cli: Cli) -> None:
    cli.run("group", "create", "-n", "cli-rg", "-l", "westeurope")

    created = json.loads(cli.run("ml", "workspace", "create", "-n", "cli-ws", "-g", "cli-rg").stdout)
    shown = json.loads(cli.run("ml", "workspace", "show", "-n", "cli-ws", "-g", "cli-rg").stdout)
    names = cli.run("ml", "workspace", "list", "-g", "cli-rg", "--query", "[].name", "-o", "tsv").stdout

    assert created["properties"]["provisioningState"] == "Succeeded"
    assert shown["id"] == created["id"]
    assert shown["identity"]["principalId"]
    assert names.split() == ["cli-ws"]

    cli.run("ml", "workspace", "delete", "-n", "cli-ws", "-g", "cli-rg", "--yes")
    missing = cli.run("ml", "workspace", "show", "-n", "cli-ws", "-g", "cli-rg", check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("ERROR: (WorkspaceNotFound)")
    assert "Traceback" not in missing.stderr


def test_no_wait_returns_at_once_and_the_server_finishes(cli: Cli) -> None:
    cli.run("group", "create", "-n", "nowait-rg", "-l", "westeurope")

    quiet = cli.run("ml", "workspace", "create", "-n", "nowait-ws", "-g", "nowait-rg", "--no-wait")

    assert quiet.stdout == ""
    for _ in range(50):
        state = cli.run(
            "ml",
            "workspace",
            "show",
            "-n",
            "nowait-ws",
            "-g",
            "nowait-rg",
            "--query",
            "properties.provisioningState",
            "-o",
            "tsv",
        ).stdout.strip()
        if state == "Succeeded":
            break
    assert state == "Succeeded"


def test_errors_are_one_line_without_traceback_and_debug_shows_it(cli: Cli) -> None:
    plain = cli.run("ml", "workspace", "show", "-n", "x1x", "-g", "no-such-rg", check=False)
    debug = cli.run("ml", "workspace", "show", "-n", "x1x", "-g", "no-such-rg", "--debug", check=False)

    assert plain.returncode == debug.returncode == 1
    assert plain.stderr.startswith("ERROR: (ResourceGroupNotFound)")  # as ARM answers under a missing group
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr


def test_usage_errors_exit_2_and_say_what_is_missing(cli: Cli) -> None:
    result = cli.run("ml", "workspace", "create", "-n", "ws", check=False)

    assert result.returncode == 2
    assert "--resource-group" in result.stderr


def test_not_logged_in_says_how_to_log_in(cli: Cli) -> None:
    cli.run("logout")

    result = cli.run("group", "list", check=False)

    assert result.returncode == 1
    assert "tether login" in result.stderr


def test_output_formats(cli: Cli) -> None:
    cli.run("group", "create", "-n", "fmt-rg", "-l", "westeurope")

    table = cli.run("group", "show", "-n", "fmt-rg", "-o", "table").stdout
    yaml_out = cli.run("group", "show", "-n", "fmt-rg", "-o", "yaml").stdout
    tsv = cli.run("group", "show", "-n", "fmt-rg", "--query", "{n: name, l: location}", "-o", "tsv").stdout

    assert "Name" in table
    assert "fmt-rg" in table
    assert "name: fmt-rg" in yaml_out
    assert tsv.strip() == "fmt-rg\twesteurope"
