"""Identities and role-based access control through the CLI, black box, as a platform engineer uses them.

Each test is a story: a service principal gets access by role assignments and loses it again; names
are resolved to principals or the error says what to do; a user-assigned identity gets federated
credentials; a workspace runs as that identity. Commands are written as typed in a shell.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tether.cli.ml.workspaces import create as workspace_create

WORKSPACE_WRITE = "Microsoft.MachineLearningServices/workspaces/write"


def tether(cli: Cli, line: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cli.run(*shlex.split(line), check=check)


def answer(cli: Cli, line: str) -> Any:
    return json.loads(tether(cli, line).stdout)


def log_in_as(cli: Cli, credentials: dict[str, str], config_dir: Path) -> Cli:
    other = Cli(cli.server, config_dir)
    tether(
        other,
        f"login --server {cli.server.url} --service-principal -u {credentials['appId']} "
        f"-p {credentials['password']} --tenant {credentials['tenant']} --ca-file {cli.server.ca_file}",
    )
    return other


def test_a_service_principal_gets_and_loses_access_by_role_assignments(cli: Cli, tmp_path: Path) -> None:
    group_id = f"/subscriptions/{cli.server.bootstrap['subscription_id']}/resourceGroups/rbac-rg"
    tether(cli, "group create -n rbac-rg -l westeurope")

    # A new service principal, logged in with its own config dir, may do nothing yet.
    created = tether(cli, "ad sp create-for-rbac --name rbac-sp")
    credentials = json.loads(created.stdout)
    assert set(credentials) == {"appId", "displayName", "password", "tenant"}
    assert "credentials that you must protect" in created.stderr
    sp = log_in_as(cli, credentials, tmp_path / "sp")
    denied = tether(sp, "group show -n rbac-rg", check=False)
    assert denied.returncode == 1
    assert denied.stderr.startswith("ERROR: (AuthorizationFailed)")
    assert "resourceGroups/read' over scope" in denied.stderr
    assert group_id.lower() in denied.stderr.lower()

    # The admin asks why, and is told how to grant it (on stderr too).
    check = tether(cli, f"role assignment check --assignee rbac-sp --action {WORKSPACE_WRITE} -g rbac-rg")
    verdict = json.loads(check.stdout)
    assert verdict["allowed"] is False
    assert verdict["grantedBy"] is None
    assert "Contributor" in verdict["rolesThatWouldGrant"]
    assert verdict["fix"].startswith("tether role assignment create")
    assert verdict["fix"] in check.stderr

    # Reader on the group, by display name (scope without the leading '/', in another case): it can read only.
    scope_as_typed = group_id[1:].replace("resourceGroups", "RESOURCEGROUPS")
    reader = answer(cli, f"role assignment create --assignee rbac-sp --role reader --scope {scope_as_typed}")
    assert reader["roleDefinitionName"] == "Reader"
    assert reader["principalId"] == verdict["principalId"]
    assert answer(sp, "group show -n rbac-rg")["name"] == "rbac-rg"
    cannot_write = tether(sp, "ml workspace create -n rbac-ws -g rbac-rg", check=False)
    assert cannot_write.stderr.startswith("ERROR: (AuthorizationFailed)")
    assert f"'{WORKSPACE_WRITE}'" in cannot_write.stderr
    table = tether(cli, f"role assignment check --assignee rbac-sp --action {WORKSPACE_WRITE} -g rbac-rg -o table")
    assert table.stdout.startswith("Denied: 'rbac-sp'")
    assert "To grant it, run:" in table.stderr

    # Contributor, by app id: it can create a workspace, and the check names the granting role.
    tether(cli, f"role assignment create --assignee {credentials['appId']} --role Contributor --scope {group_id}")
    tether(sp, "ml workspace create -n rbac-ws -g rbac-rg")
    table = tether(cli, f"role assignment check --assignee rbac-sp --action {WORKSPACE_WRITE} -g rbac-rg -o table")
    assert table.stdout.startswith("Allowed: 'rbac-sp'")
    assert "granted by role 'Contributor'" in table.stdout
    assert table.stderr == ""
    duplicate = tether(
        cli, f"role assignment create --assignee rbac-sp --role Contributor --scope {group_id}", check=False
    )
    assert duplicate.returncode == 1
    assert duplicate.stderr.startswith("ERROR: (RoleAssignmentExists)")

    # Listing as az does: at the scope given; at the subscription itself by default; everywhere with --all.
    listed = answer(cli, f"role assignment list --assignee rbac-sp --scope {group_id}")
    assert sorted(a["roleDefinitionName"] for a in listed) == ["Contributor", "Reader"]
    assert {(a["principalName"], a["resourceGroup"]) for a in listed} == {("rbac-sp", "rbac-rg")}
    assert answer(cli, "role assignment list --assignee rbac-sp") == []
    everywhere = tether(cli, "role assignment list --all --assignee rbac-sp --role Contributor -o table").stdout
    assert "Contributor" in everywhere
    assert "Reader" not in everywhere

    # Revoking: Contributor by filter, Reader by id; then nothing is left to delete and it is denied again.
    tether(cli, f"role assignment delete --assignee rbac-sp --role Contributor --scope {group_id}")
    tether(cli, f"role assignment delete --ids {reader['id']}")
    assert answer(cli, "role assignment list --all --assignee rbac-sp") == []
    nothing = tether(cli, f"role assignment delete --assignee rbac-sp --scope {group_id}", check=False)
    assert nothing.stderr.startswith("ERROR: (RoleAssignmentNotFound)")
    assert "(AuthorizationFailed)" in tether(sp, "group show -n rbac-rg", check=False).stderr

    # A new secret logs in; deleting the principal removes it from the directory.
    reset = answer(cli, f"ad sp credential reset --id {credentials['appId']}")
    assert reset["appId"] == credentials["appId"]
    log_in_as(cli, {**credentials, "password": reset["password"]}, tmp_path / "sp2")
    tether(cli, f"ad sp delete --id {credentials['appId']}")
    assert answer(cli, "ad sp list --display-name RBAC-SP") == []


def test_assignees_and_roles_are_resolved_or_explained(cli: Cli) -> None:
    tether(cli, "group create -n who-rg -l westeurope")
    tether(cli, "group create -n who-rg2 -l westeurope")
    assign = "role assignment create -g who-rg"

    # A compute target's identity is named '<workspace>/computes/<compute>': the '/' survives the lookup.
    tether(cli, "ad sp create-for-rbac --name who-ws/computes/k8s-compute")
    assert (
        answer(cli, f"{assign} --role Reader --assignee who-ws/computes/k8s-compute")["roleDefinitionName"] == "Reader"
    )

    # Two identities of one name: the error lists both and asks for an object id, which then works.
    first = answer(cli, "identity create -n who-id -g who-rg")
    second = answer(cli, "identity create -n who-id -g who-rg2")
    ambiguous = tether(cli, f"{assign} --role Reader --assignee who-id", check=False)
    assert ambiguous.returncode == 1
    assert ambiguous.stderr.startswith("ERROR: (MultiplePrincipalsFound)")
    assert first["principalId"] in ambiguous.stderr
    assert second["principalId"] in ambiguous.stderr
    by_object_id = f"--assignee-object-id {first['principalId']} --assignee-principal-type ServicePrincipal"
    tether(cli, f"{assign} --role Reader {by_object_id}")

    unknown = tether(cli, f"{assign} --role Reader --assignee nobody-by-this-name", check=False)
    assert unknown.stderr.startswith("ERROR: (PrincipalNotFound)")
    assert "tether ad sp list" in unknown.stderr
    typo = tether(cli, f"{assign} --role Contributer --assignee-object-id {first['principalId']}", check=False)
    assert typo.stderr.startswith("ERROR: (RoleDefinitionDoesNotExist)")
    assert "Did you mean: Contributor" in typo.stderr
    no_scope = tether(cli, "role assignment create --role Reader --assignee who-id", check=False)
    assert no_scope.returncode == 2
    assert "--scope" in no_scope.stderr

    roles = tether(cli, "role definition list --name acrpull --query [].roleName -o tsv").stdout
    assert roles.split() == ["AcrPull"]


def test_user_assigned_identity_with_federated_credentials(cli: Cli) -> None:
    tether(cli, "group create -n uai-rg -l westeurope")

    created = answer(cli, "identity create -n uai-one -g uai-rg --tags team=ml")
    assert created["principalId"]
    assert created["clientId"]
    assert (created["resourceGroup"], created["tags"]) == ("uai-rg", {"team": "ml"})
    assert answer(cli, "identity show -n uai-one -g uai-rg")["id"] == created["id"]
    assert tether(cli, "identity list -g uai-rg --query [].name -o tsv").stdout.split() == ["uai-one"]
    in_subscription = tether(cli, "identity list --query \"[?name=='uai-one'].resourceGroup\" -o tsv")
    assert in_subscription.stdout.split() == ["uai-rg"]

    fic = "identity federated-credential"
    where = "--identity-name uai-one -g uai-rg"
    credential = answer(
        cli,
        f"{fic} create -n cluster-sa {where} --issuer https://kubernetes.default.svc.cluster.local "
        f"--subject system:serviceaccount:azureml:training --issuer-ca-file {cli.server.ca_file}",
    )
    assert credential["audiences"] == ["api://AzureADTokenExchange"]
    assert credential["subject"] == "system:serviceaccount:azureml:training"
    assert tether(cli, f"{fic} list {where} --query [].name -o tsv").stdout.split() == ["cluster-sa"]
    tether(cli, f"{fic} delete -n cluster-sa {where} --yes")
    assert answer(cli, f"{fic} list {where}") == []

    tether(cli, "identity delete -n uai-one -g uai-rg")
    gone = tether(cli, "identity show -n uai-one -g uai-rg", check=False)
    assert gone.stderr.startswith("ERROR: (ResourceNotFound)")
    assert "tether identity create" in gone.stderr


@pytest.mark.skipif(
    not any("--primary-user-assigned-identity" in p.opts for p in workspace_create.params),
    reason="ml workspace create has no --primary-user-assigned-identity yet",
)
def test_workspace_runs_as_a_user_assigned_identity(cli: Cli) -> None:
    tether(cli, "group create -n uaws-rg -l westeurope")
    identity = answer(cli, "identity create -n uaws-id -g uaws-rg")

    workspace = answer(cli, f"ml workspace create -n uaws -g uaws-rg --primary-user-assigned-identity {identity['id']}")

    assert workspace["identity"]["type"] == "UserAssigned"
    assert [k.lower() for k in workspace["identity"]["userAssignedIdentities"]] == [identity["id"].lower()]
    assert workspace["properties"]["primaryUserAssignedIdentity"].lower() == identity["id"].lower()
