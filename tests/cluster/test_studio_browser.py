"""The Studio in a real browser (Debian's ``chromium`` driven by Playwright) against a real ``tether server``
process and the real local cluster: sign-in, attach through the form to ``Succeeded``, the documented
Cluster Admin failure, the identity pencil, a Reader's refusal, a job's timeline and live log, and
CSRF-less and session-less requests refused.

Setup is the CLI's, as a user types it: a workspace, the local cluster registered as a managed cluster
with the ML extension (operator as a local process), users made with ``tether ad user create`` and their
roles with ``tether role assignment create``. Pods are kwok's (simulated): the job's log line comes from
the ``tether.dev/simulate-log`` tag. The tests save screenshots into docs/studio/ (committed; the README
and docs/studio.md show them), so the pictures there are the Studio as it last passed.

No browser is downloaded: Playwright drives /usr/bin/chromium (``make cluster``/``make test`` install
Debian's package when it is missing).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace
from playwright.sync_api import Browser, expect

from tests.browser import PASSWORD, shoot, sign_in
from tests.cluster.conftest import Cli, log_in, stop_local_agents, workspace_on_managed_cluster
from tether.cli.roles.assignment_requests import create_assignment
from tether.client import TetherClient
from tether.domain.roles import KUBERNETES_EXTENSION_CONTRIBUTOR, OWNER, READER, RoleDefinition
from tether.localcluster import SIMULATE_DURATION_ANNOTATION, SIMULATE_LOG_ANNOTATION, LocalCluster
from tether.server_process import ServerProcess

pytestmark = pytest.mark.cluster

RG, WS, CLUSTER = "studio-rg", "studio-ws", "studio-aks"
NOADMIN_WS = "noadmin-ws"
ENGINEER, READER_USER = "eng@tether.test", "reader@tether.test"
LOG_LINE = "epoch 1/1 loss=0.042 accuracy=0.98"


@dataclass
class World:
    server: ServerProcess
    cli: Cli
    client: TetherClient
    namespace: str
    tmp: Path

    @property
    def sub(self) -> str:
        return self.client.profile.subscription_id

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{RG}"

    @property
    def cluster_id(self) -> str:
        return f"{self.group_id}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"

    def workspace_id(self, name: str = WS) -> str:
        return f"{self.group_id}/providers/Microsoft.MachineLearningServices/workspaces/{name}"

    def studio(self, path: str = "", workspace: str = WS) -> str:
        return f"{self.server.url}/studio/workspaces/{self.sub}/{RG}/{workspace}{path}"

    def grant(self, principal: str, role: RoleDefinition, scope: str) -> None:
        create_assignment(
            self.client, scope=scope, principal_id=principal, role_definition_id=role.definition_id(self.sub)
        )

    def user(self, upn: str, name: str) -> str:
        created = self.cli.json(
            f"ad user create --display-name {name} --user-principal-name {upn} --password {PASSWORD} -o json"
        )
        assert "password" not in str(created).lower()
        return str(created["id"])

    def compute(self, name: str, workspace: str = WS) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get(f"{self.workspace_id(workspace)}/computes/{name}")
        return found


def _user_assigned_workspace(world: World) -> str:
    """A workspace acting as a user-assigned identity that has Reader and Kubernetes Extension Contributor on
    the cluster but not Cluster Admin (S11's "internal server" failure); returns its principal id."""
    identity, _ = world.client.put(
        f"{world.group_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{NOADMIN_WS}-id",
        {"location": "westeurope"},
    )
    body = {
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity["id"]: {}}},
        "properties": {"primaryUserAssignedIdentity": identity["id"]},
    }
    _, operation = world.client.put(world.workspace_id(NOADMIN_WS), body)
    assert operation is not None
    world.client.wait(operation)
    principal = str(identity["properties"]["principalId"])
    for role in (READER, KUBERNETES_EXTENSION_CONTRIBUTOR):
        world.grant(principal, role, world.cluster_id)
    return principal


@pytest.fixture(scope="module")
def world(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("studio")
    namespace = f"team-studio-{secrets.token_hex(3)}"
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    server = ServerProcess.start(root / "server")
    config_dir = root / "config"
    try:
        cli = log_in(server, config_dir)
        workspace_on_managed_cluster(
            cli, kubeconfig=local_cluster.kubeconfig_path, resource_group=RG, workspace=WS, cluster=CLUSTER
        )
        world = World(server, cli, cli.client(), namespace, root)
        world.grant(world.user(ENGINEER, "Eng"), OWNER, world.group_id)
        world.grant(world.user(READER_USER, "Rita"), READER, world.group_id)
        _user_assigned_workspace(world)
        cli.line(f"identity create -g {RG} -n studio-uai -o none")
        cli.line(
            f"ml compute attach -g {RG} -w {WS} -t Kubernetes -n cli-compute --resource-id {world.cluster_id} "
            f"--namespace {namespace} --identity-type SystemAssigned -o none"
        )
        yield world
        world.client.close()
    finally:
        stop_local_agents(config_dir)
        server.stop()
        try:
            kube.delete(Namespace, namespace)
        finally:
            kube.close()


def test_sign_in_then_attach_through_the_form_reaches_succeeded(browser: Browser, world: World) -> None:
    page = sign_in(browser, world.server.url, ENGINEER)
    page.get_by_role("link", name=WS).first.click()
    expect(page.get_by_role("link", name="cli-compute")).to_be_visible()
    page.get_by_role("link", name="+ Attach compute").click()
    page.get_by_label(re.compile(CLUSTER)).check()
    page.get_by_label("Compute name").fill("form-compute")
    page.get_by_label("Kubernetes namespace").fill(world.namespace)
    page.get_by_label("System-assigned (created for this compute)").check()
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#preflight")).to_contain_text("Ready to attach")
    shoot(page, "attach-form")

    page.get_by_role("button", name="Attach", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("form-compute"))).to_contain_text("Succeeded", timeout=30_000)
    expect(page.locator("#identity-type")).to_have_text("System-assigned")
    shoot(page, "compute-detail")
    assert world.compute("form-compute")["properties"]["provisioningState"] == "Succeeded"

    page.get_by_role("link", name="Compute", exact=True).click()
    expect(page.get_by_role("row", name=re.compile("form-compute"))).to_contain_text("Succeeded")
    shoot(page, "compute-list")


def test_without_cluster_admin_the_attach_fails_with_internal_server_error_the_role_and_the_fix(
    browser: Browser, world: World
) -> None:
    page = sign_in(browser, world.server.url, ENGINEER)
    page.goto(world.studio("/computes/attach", workspace=NOADMIN_WS))
    page.get_by_label(re.compile(CLUSTER)).check()
    page.get_by_label("Compute name").fill("no-admin")
    page.get_by_label("Kubernetes namespace").fill(world.namespace)
    page.get_by_label("None", exact=True).check()
    page.get_by_role("button", name="Attach", exact=True).click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("InternalServerError", timeout=30_000)
    expect(alert).to_contain_text("Azure Kubernetes Service Cluster Admin Role")
    expect(alert).to_contain_text("tether role assignment create")
    assert world.compute("no-admin", NOADMIN_WS)["properties"]["provisioningState"] == "Failed"


def test_the_pencil_changes_the_identity_and_the_cli_shows_it(browser: Browser, world: World) -> None:
    page = sign_in(browser, world.server.url, ENGINEER)
    page.goto(world.studio("/computes/cli-compute"))
    page.get_by_role("link", name="Change identity").click()
    page.get_by_label("User-assigned", exact=True).check()
    page.get_by_label("User-assigned identity").select_option(label=f"studio-uai ({RG})")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#identity-type")).to_have_text("User-assigned: studio-uai", timeout=30_000)
    deadline = time.monotonic() + 30
    while (shown := world.cli.json(f"ml compute show -g {RG} -w {WS} -n cli-compute -o json"))["properties"][
        "provisioningState"
    ] not in ("Succeeded", "Failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert shown["identity"]["type"] == "UserAssigned"
    assert [i.rsplit("/", 1)[-1] for i in shown["identity"]["userAssignedIdentities"]] == ["studio-uai"]


def test_a_reader_sees_computes_but_cannot_attach(browser: Browser, world: World) -> None:
    page = sign_in(browser, world.server.url, READER_USER)
    page.goto(world.studio("/computes"))
    expect(page.get_by_role("link", name="cli-compute")).to_be_visible()
    expect(page.get_by_role("link", name="+ Attach compute")).to_have_count(0)
    expect(page.locator("#readonly-note")).to_be_visible()

    page.goto(world.studio("/computes/attach"))
    expect(page.get_by_role("button", name="Attach", exact=True)).to_have_count(0)
    page.get_by_label("Compute name").fill("reader-compute")
    page.get_by_role("button", name="Check").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("AuthorizationFailed")
    expect(alert).to_contain_text("Microsoft.MachineLearningServices/workspaces/computes/write")
    page.goto(world.studio("/computes/cli-compute"))
    expect(page.get_by_role("link", name="Change identity")).to_have_count(0)
    expect(page.get_by_role("button", name="Detach…")).to_have_count(0)


def test_a_job_page_shows_its_timeline_and_streams_its_log(browser: Browser, world: World) -> None:
    job = {
        "type": "command",
        "command": "python train.py --epochs 1",
        "environment": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"},
        "compute": "azureml:cli-compute",
        "display_name": "hello-studio",
        "tags": {SIMULATE_DURATION_ANNOTATION: "20s", SIMULATE_LOG_ANNOTATION: LOG_LINE},
    }
    path = world.tmp / "job.yml"
    path.write_text(yaml.safe_dump(job))
    created = world.cli.json(f"ml job create -f {path} -g {RG} -w {WS} -o json")

    page = sign_in(browser, world.server.url, ENGINEER)
    page.goto(world.studio("/jobs"))
    page.get_by_role("link", name="hello-studio").click()
    expect(page.locator("#timeline")).to_contain_text("Queued")
    expect(page.locator("#log")).to_contain_text(LOG_LINE, timeout=60_000)
    page.reload()  # the timeline is rendered with the page: it has moved on since
    expect(page.locator("#timeline")).to_contain_text("Running")
    expect(page.locator("#log")).to_contain_text(LOG_LINE, timeout=60_000)
    shoot(page, "job-page")
    assert created["name"] in page.url
