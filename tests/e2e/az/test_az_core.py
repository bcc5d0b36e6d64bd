"""The real az: cloud registration, login, groups, identities, role assignments, service principals."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.az.conftest import Az

pytestmark = pytest.mark.e2e


def test_cloud_register_discovers_every_endpoint(az: Az) -> None:
    cloud = az.json("cloud", "show", "-n", "Tether")
    base = az.server.url + "/"
    endpoints = cloud["endpoints"]
    assert endpoints["resourceManager"].rstrip("/") == az.server.url
    assert endpoints["activeDirectory"] == base
    assert endpoints["microsoftGraphResourceId"] == base
    # The two keys az reads by Azure's exact names (a differing name leaves them unset).
    assert endpoints["activeDirectoryDataLakeResourceId"] == base
    assert endpoints["ossrdbmsResourceId"] == base
    assert cloud["isActive"] is True


def test_login_account_and_access_token(az: Az) -> None:
    account = az.json("account", "show")
    assert account["id"] == az.subscription
    assert account["user"] == {"name": az.bootstrap["client_id"], "type": "servicePrincipal"}
    token = az.json("account", "get-access-token")
    assert token["subscription"] == az.subscription
    assert token["accessToken"].count(".") == 2  # a JWT
    assert az.subscription in az.run("account", "list", "--query", "[].id", "-o", "tsv").stdout


def test_group_lifecycle_exists_tag_filter_and_missing_delete(az: Az) -> None:
    az.run("group", "create", "-n", "az-g1", "-l", "westeurope", "--tags", "team=a", "-o", "none")
    az.run("group", "create", "-n", "az-g2", "-l", "westeurope", "--tags", "team=b", "-o", "none")
    assert az.json("group", "show", "-n", "az-g1")["tags"] == {"team": "a"}
    assert az.run("group", "exists", "-n", "az-g1").stdout.strip() == "true"
    assert az.run("group", "exists", "-n", "az-none").stdout.strip() == "false"
    assert az.json("group", "list", "--tag", "team=a", "--query", "[].name") == ["az-g1"]
    assert sorted(az.json("group", "list", "--tag", "team", "--query", "[].name")) == ["az-g1", "az-g2"]
    assert az.json("group", "update", "-n", "az-g2", "--tags", "team=c")["tags"] == {"team": "c"}

    missing = az.run("group", "delete", "-n", "az-none", "-y", expect=3)  # az's exit code for "not found"
    assert "ResourceGroupNotFound" in missing.stderr
    assert "az group create" in missing.stderr

    az.run("group", "delete", "-n", "az-g2", "-y")
    assert az.run("group", "exists", "-n", "az-g2").stdout.strip() == "false"


def test_identity_lifecycle_with_tags_and_federated_credential(az: Az) -> None:
    az.run("group", "create", "-n", "az-id", "-l", "westeurope", "-o", "none")
    created = az.json("identity", "create", "-g", "az-id", "-n", "id1")
    assert created["principalId"]
    assert created["clientId"]
    updated = az.json("identity", "update", "-g", "az-id", "-n", "id1", "--tags", "env=dev")
    assert updated["tags"] == {"env": "dev"}
    assert updated["principalId"] == created["principalId"]
    assert az.json("identity", "show", "-g", "az-id", "-n", "id1")["tags"] == {"env": "dev"}
    assert az.json("identity", "list", "-g", "az-id", "--query", "[].name") == ["id1"]

    az.run(
        "identity", "federated-credential", "create", "-g", "az-id", "--identity-name", "id1", "-n", "fc1",
        "--issuer", "https://127.0.0.1:9/issuer", "--subject", "system:serviceaccount:ns:sa", "-o", "none",
    )  # fmt: skip
    fics = az.json("identity", "federated-credential", "list", "-g", "az-id", "--identity-name", "id1")
    assert [f["subject"] for f in fics] == ["system:serviceaccount:ns:sa"]

    az.run("identity", "delete", "-g", "az-id", "-n", "id1")
    shown = az.run("identity", "show", "-g", "az-id", "-n", "id1", expect=3)
    assert "az identity create" in shown.stderr


def test_role_assignments_by_app_id_and_object_id(az: Az) -> None:
    assert az.json("role", "definition", "list", "--name", "Reader", "--query", "[].roleName") == ["Reader"]
    az.run("group", "create", "-n", "az-ra", "-l", "westeurope", "-o", "none")
    identity = az.json("identity", "create", "-g", "az-ra", "-n", "ra-id")
    scope = f"/subscriptions/{az.subscription}/resourceGroups/az-ra"

    by_app = az.json(
        "role", "assignment", "create", "--assignee", az.bootstrap["client_id"], "--role", "Reader", "--scope", scope
    )
    assert by_app["principalId"] == az.bootstrap["admin_object_id"]
    by_object = az.json(
        "role", "assignment", "create", "--assignee", identity["principalId"], "--role", "AcrPull", "--scope", scope
    )
    assert by_object["principalId"] == identity["principalId"]

    listed = az.json("role", "assignment", "list", "--scope", scope)
    assert sorted(a["roleDefinitionName"] for a in listed) == ["AcrPull", "Reader"]
    # The table resolves principals through Graph's directoryObjects/getByIds: az shows a service
    # principal by its first servicePrincipalName, the appId (clientId for an identity).
    table = az.run("role", "assignment", "list", "--scope", scope, "-o", "table").stdout
    assert identity["clientId"] in table
    assert az.bootstrap["client_id"] in table
    assert "AcrPull" in table
    assert az.json("role", "assignment", "list", "--assignee", az.bootstrap["client_id"], "--scope", scope)

    az.run(
        "role", "assignment", "delete", "--assignee", az.bootstrap["client_id"], "--role", "Reader", "--scope", scope
    )
    az.run("role", "assignment", "delete", "--assignee", identity["principalId"], "--scope", scope)
    assert az.json("role", "assignment", "list", "--scope", scope) == []


def test_create_for_rbac_then_sign_in_as_that_service_principal(
    az: Az, tmp_path_factory: pytest.TempPathFactory
) -> None:
    az.run("group", "create", "-n", "az-sp", "-l", "westeurope", "-o", "none")
    scope = f"/subscriptions/{az.subscription}/resourceGroups/az-sp"
    sp = az.json("ad", "sp", "create-for-rbac", "-n", "az-e2e-app", "--role", "Contributor", "--scopes", scope)
    assert sp["displayName"] == "az-e2e-app"
    assert sp["tenant"] == az.bootstrap["tenant_id"]
    assert sp["password"]
    shown = az.json("ad", "sp", "show", "--id", sp["appId"])
    assert shown["appId"] == sp["appId"]
    assert shown["displayName"] == "az-e2e-app"
    assert az.json("ad", "app", "show", "--id", sp["appId"])["displayName"] == "az-e2e-app"
    reset = az.json("ad", "sp", "credential", "reset", "--id", sp["appId"])
    assert reset["appId"] == sp["appId"]
    assert reset["password"] != sp["password"]

    # Sign in as the new principal in a copy of the module's config (the module stays logged in as admin).
    as_sp = Az(az.executable, az.server, tmp_path_factory.mktemp("az-sp-config"))
    shutil.copytree(az.config_dir, as_sp.config_dir, dirs_exist_ok=True)
    login = ("login", "--service-principal", "-u", sp["appId"], "--tenant", sp["tenant"], "-o", "none")
    as_sp.run(*login, f"--password={sp['password']}", expect=1)  # the reset removed the first password
    as_sp.run(*login, f"--password={reset['password']}")
    assert as_sp.json("account", "show")["user"]["name"] == sp["appId"]
    assert as_sp.json("group", "show", "-n", "az-sp")["name"] == "az-sp"  # Contributor on the group
    denied = as_sp.run("group", "create", "-n", "az-sp-other", "-l", "westeurope", expect=1)
    assert "AuthorizationFailed" in denied.stderr

    az.run("ad", "sp", "delete", "--id", sp["appId"])
    assert "does not exist" in az.run("ad", "sp", "show", "--id", sp["appId"], expect=3).stderr
