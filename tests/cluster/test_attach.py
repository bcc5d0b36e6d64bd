"""Attaching the local cluster to workspaces through the CLI, as the seed does it (issue 6).

One real ``tether server`` process for the module, with three Tether clusters on the one local
cluster: a managed one and a connected one with the ML extension (operator and connect agent as local
processes), and a managed one without it. Each test makes its own workspaces, so tests do not depend
on each other's grants. Missing roles are staged with user-assigned workspace identities (S10: nothing
is granted to them automatically); every failure is checked for its exact code, the principal, role
and scope in its message, and a fix command that, run as printed, gets the next attach past that step.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.cluster.conftest import AZUREML, Cli, Clusters, log_in, register_clusters, stop_local_agents
from tether.cli.roles.assignment_requests import create_assignment
from tether.client import ClientError
from tether.client.principals import get_by_object_id
from tether.domain.roles import (
    AKS_CLUSTER_ADMIN,
    AZURE_RELAY_OWNER,
    KUBERNETES_EXTENSION_CONTRIBUTOR,
    READER,
    RoleDefinition,
)
from tether.localcluster import LocalCluster
from tether.server_process import ServerProcess

pytestmark = pytest.mark.cluster

RG = "attach-rg"
NAMESPACE = "team-a"
CLUSTER_ROLES = (READER, KUBERNETES_EXTENSION_CONTRIBUTOR, AKS_CLUSTER_ADMIN)


@dataclass
class World:
    server: ServerProcess
    clusters: Clusters
    cli: Cli
    bare: str  # a registered managed cluster without the ML extension
    compute_identity: dict[str, Any]  # a user-assigned identity for computes
    tmp: Path

    @property
    def sub(self) -> str:
        return self.clusters.subscription_id

    def relay_namespace_id(self) -> str:
        """The relay the extension created for the connected cluster, as the extension reports it."""
        extension = self.clusters.client.get(self.clusters.extension_id(self.clusters.connected_id()))
        connection = extension["properties"]["configurationSettings"]["relayserver.hybridConnectionResourceID"]
        return str(connection.split("/hybridConnections/")[0])


@pytest.fixture(scope="module")
def world(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("attach")
    server = ServerProcess.start(root / "server")
    config_dir = root / "config"
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    clusters: Clusters | None = None
    namespace_created = False
    try:
        cli = log_in(server, config_dir)
        clusters = register_clusters(
            cli, kubeconfig=local_cluster.kubeconfig_path, resource_group=RG, managed="gpu-aks", connected="edge-arc"
        )
        cli.line(f"aks create -g {RG} -n bare-aks --kubeconfig {local_cluster.kubeconfig_path} -o none")
        identity = cli.json(f"identity create -n compute-id -g {RG}")
        kube.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
        namespace_created = True
        yield World(server, clusters, cli, "bare-aks", identity, root)
    finally:
        if clusters is not None:
            clusters.close()
        stop_local_agents(config_dir)
        server.stop()
        try:
            if namespace_created:
                kube.delete(Namespace, NAMESPACE)
        finally:
            kube.close()


# --- helpers -------------------------------------------------------------------------------------------


def system_workspace(world: World, name: str) -> str:
    """A workspace with a system-assigned identity (S10: attach grants its roles); returns its principal id."""
    _, operation = world.clusters.client.put(
        world.clusters.workspace_id(name), {"identity": {"type": "SystemAssigned"}}
    )
    assert operation is not None
    world.clusters.client.wait(operation)
    return str(world.clusters.client.get(world.clusters.workspace_id(name))["identity"]["principalId"])


def user_assigned_workspace(world: World, name: str) -> str:
    """A workspace acting as a new user-assigned identity, which holds no roles; returns its principal id."""
    client = world.clusters.client
    identity, _ = client.put(
        f"{world.clusters.group_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-id",
        {"location": "westeurope"},
    )
    body = {
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity["id"]: {}}},
        "properties": {"primaryUserAssignedIdentity": identity["id"]},
    }
    _, operation = client.put(world.clusters.workspace_id(name), body)
    assert operation is not None
    client.wait(operation)
    return str(identity["properties"]["principalId"])


def grant(world: World, principal_id: str, role: RoleDefinition, scope: str) -> None:
    create_assignment(
        world.clusters.client, scope=scope, principal_id=principal_id, role_definition_id=role.definition_id(world.sub)
    )


def compute_id(world: World, workspace: str, name: str) -> str:
    return f"{world.clusters.workspace_id(workspace)}/computes/{name}"


def wait_compute(world: World, workspace: str, name: str, *, timeout: float = 20) -> dict[str, Any]:
    """The compute once its attach or update has finished (Succeeded or Failed)."""
    deadline = time.monotonic() + timeout
    while True:
        compute = world.clusters.client.get(compute_id(world, workspace, name))
        if compute["properties"]["provisioningState"] in ("Succeeded", "Failed"):
            return compute
        assert time.monotonic() < deadline, f"compute {name} still {compute['properties']['provisioningState']}"
        time.sleep(0.1)


def attach(
    world: World, workspace: str, name: str, cluster_id: str, *extra: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``tether ml compute attach`` (waiting for the result unless ``--no-wait`` is in ``extra``)."""
    args = ["ml", "compute", "attach", "-g", RG, "-w", workspace, "--type", "Kubernetes", "-n", name]
    return world.cli.run(*args, "--resource-id", cluster_id, *extra, check=check)


def attach_args(workspace: str, name: str, cluster_id: str) -> list[str]:
    return ["ml", "compute", "attach", "-g", RG, "-w", workspace, "-n", name, "--resource-id", cluster_id]


def attach_body(cluster_id: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "properties": {"computeType": "Kubernetes", "resourceId": cluster_id, "properties": {"namespace": namespace}}
    }


def not_found(world: World, workspace: str, name: str) -> bool:
    """Whether GET answers 404 ComputeNotFound (fails the test if the compute exists)."""
    with pytest.raises(ClientError) as caught:
        world.clusters.client.get(compute_id(world, workspace, name))
    return (caught.value.status, caught.value.code) == (404, "ComputeNotFound")


def display_name(world: World, principal_id: str) -> str:
    principal = get_by_object_id(world.clusters.client, principal_id)
    assert principal is not None, f"no principal {principal_id}"
    return str(principal["displayName"])


def principal_exists(world: World, principal_id: str) -> bool:
    return get_by_object_id(world.clusters.client, principal_id) is not None


def computes_in(world: World, workspace: str) -> list[str]:
    return sorted(c["name"] for c in world.clusters.client.list(f"{world.clusters.workspace_id(workspace)}/computes"))


def fix_command(message: str) -> str:
    """The command after 'Fix: ' in an error message, as a user would copy it."""
    _, sep, fix = message.partition(" Fix: ")
    assert sep, f"no fix in: {message}"
    return fix


def run_fix(world: World, fix: str) -> None:
    words = shlex.split(fix)
    assert words[0] == "tether", fix
    world.cli.run(*words[1:], "-o", "none")


# --- S13: the seed's two commands, verbatim ---------------------------------------------------------------


def test_the_seed_commands_return_at_once_and_attach_both_cluster_kinds(world: World) -> None:
    sub, ws = world.sub, "seed-ws"
    world.cli.line(f"ml workspace create -n {ws} -g {RG} -o none")
    seed = [
        f"ml compute attach --resource-group {RG} --workspace-name {ws} --type Kubernetes --name k8s-compute "
        f'--resource-id "/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.ContainerService/'
        f'managedclusters/{world.clusters.managed}" --identity-type SystemAssigned --namespace {NAMESPACE} --no-wait',
        f"ml compute attach --resource-group {RG} --workspace-name {ws} --type Kubernetes --name amlarc-compute "
        f'--resource-id "/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.Kubernetes/connectedClusters/'
        f'{world.clusters.connected}" --user-assigned-identities "subscriptions/{sub}/resourceGroups/{RG}/providers/'
        f'Microsoft.ManagedIdentity/userAssignedIdentities/compute-id" --no-wait',
    ]
    answers = []
    for line in seed:
        started = time.monotonic()
        answers.append(world.cli.line(line))
        assert time.monotonic() - started < 5, "--no-wait must return without waiting for the attach"

    # Nothing on stdout; on stderr, the S10 grants to the system-assigned workspace identity.
    assert [a.stdout for a in answers] == ["", ""]
    managed_id, connected_id = world.clusters.managed_id(), world.clusters.connected_id()
    relay = world.relay_namespace_id()
    assert answers[0].stderr.splitlines() == [
        f"Granted '{role.name}' on {managed_id} to the workspace identity (S10)." for role in CLUSTER_ROLES
    ]
    assert answers[1].stderr.splitlines() == [
        *(f"Granted '{role.name}' on {connected_id} to the workspace identity (S10)." for role in CLUSTER_ROLES),
        f"Granted 'Azure Relay Owner' on {relay} to the workspace identity (S10).",
    ]

    show = f"ml compute show -g {RG} -w {ws} -n"
    deadline = time.monotonic() + 20
    states = {}
    while time.monotonic() < deadline:
        states = {
            name: world.cli.line(f"{show} {name} --query properties.provisioningState -o tsv").stdout.strip()
            for name in ("k8s-compute", "amlarc-compute")
        }
        if set(states.values()) <= {"Succeeded", "Failed"}:
            break
    assert states == {"k8s-compute": "Succeeded", "amlarc-compute": "Succeeded"}

    managed = world.cli.json(f"{show} k8s-compute")
    assert managed["properties"]["resourceId"] == managed_id  # lower-case 'managedclusters' canonicalized
    assert managed["properties"]["properties"]["namespace"] == NAMESPACE
    assert managed["identity"]["type"] == "SystemAssigned"
    principal = world.cli.json(f"ad sp show --id {managed['identity']['principalId']}")
    assert principal["displayName"] == f"{ws}/computes/k8s-compute"  # S9: found by that name
    assert list(managed["properties"]["properties"]["instanceTypes"]) == ["defaultinstancetype"]
    extension = world.clusters.client.get(world.clusters.extension_id(managed_id))
    assert managed["properties"]["properties"]["extensionPrincipalId"] == extension["identity"]["principalId"]

    connected = world.cli.json(f"{show} amlarc-compute")
    assert connected["properties"]["resourceId"] == connected_id
    assert connected["properties"]["properties"]["namespace"] == "default"  # S6: the default namespace
    assert connected["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": {
            world.compute_identity["id"]: {
                "principalId": world.compute_identity["principalId"],
                "clientId": world.compute_identity["clientId"],
            }
        },
    }


def test_only_the_first_of_several_user_assigned_identities_is_used_with_a_warning(world: World) -> None:
    system_workspace(world, "s8-ws")
    first = world.compute_identity["id"]
    second = world.clusters.client.put(
        f"{world.clusters.group_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/second-id",
        {"location": "westeurope"},
    )[0]["id"]

    answer = attach(
        world, "s8-ws", "two-ids", world.clusters.managed_id(), "--user-assigned-identities", f"{first},{second}"
    )

    assert answer.returncode == 0, answer.stderr
    assert f"WARNING: 2 user-assigned identities given; only the first is used: {first}" in answer.stderr.splitlines()
    compute = wait_compute(world, "s8-ws", "two-ids")
    assert compute["properties"]["provisioningState"] == "Succeeded"
    assert list(compute["identity"]["userAssignedIdentities"]) == [first]


# --- S11/B2: each documented failure, with its code, principal, role, scope and fix ----------------------


@dataclass(frozen=True)
class MissingRole:
    kind: str  # "managed" | "connected"
    granted: tuple[RoleDefinition, ...]
    missing: RoleDefinition
    code: str
    step: str
    prefix: str = ""
    next_code: str | None = None  # what the attach fails with once the fix is run (None: it succeeds)


MISSING_ROLES = [
    pytest.param(
        # Cluster Admin also grants the cluster's read action: Reader alone cannot be the missing role.
        MissingRole(
            "managed",
            (KUBERNETES_EXTENSION_CONTRIBUTOR,),
            READER,
            "AuthorizationFailed",
            "cluster",
            next_code="InternalServerError",
        ),
        id="managed-without-reader",
    ),
    pytest.param(
        MissingRole(
            "managed",
            (READER, AKS_CLUSTER_ADMIN),
            KUBERNETES_EXTENSION_CONTRIBUTOR,
            "ExtensionNotInstalled",
            "extension",
            "Extension not installed: ",
        ),
        id="managed-without-kubernetes-extension-contributor",
    ),
    pytest.param(
        MissingRole(
            "managed",
            (READER, KUBERNETES_EXTENSION_CONTRIBUTOR),
            AKS_CLUSTER_ADMIN,
            "InternalServerError",
            "access",
            "Internal server error: ",
        ),
        id="managed-without-cluster-admin",
    ),
    pytest.param(
        MissingRole(
            "connected",
            (READER, KUBERNETES_EXTENSION_CONTRIBUTOR, AZURE_RELAY_OWNER),
            AKS_CLUSTER_ADMIN,
            "InternalServerError",
            "access",
            "Internal server error: ",
        ),
        id="connected-without-cluster-admin",
    ),
    pytest.param(
        MissingRole("connected", CLUSTER_ROLES, AZURE_RELAY_OWNER, "AuthorizationFailed", "relay"),
        id="connected-without-relay-owner",
    ),
]


@pytest.mark.parametrize("case", MISSING_ROLES)
def test_a_missing_role_fails_the_attach_naming_principal_role_scope_and_fix(world: World, case: MissingRole) -> None:
    workspace = f"miss-{uuid.uuid4().hex[:8]}"
    principal = user_assigned_workspace(world, workspace)
    cluster_id = world.clusters.managed_id() if case.kind == "managed" else world.clusters.connected_id()
    for role in case.granted:
        grant(world, principal, role, world.relay_namespace_id() if role is AZURE_RELAY_OWNER else cluster_id)
    scope = world.relay_namespace_id() if case.missing is AZURE_RELAY_OWNER else cluster_id

    failed = attach(world, workspace, "first", cluster_id)

    fix = f'tether role assignment create --assignee {principal} --role "{case.missing.name}" --scope {scope}'
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"ERROR: ({case.code}) {case.prefix}the identity of workspace '{workspace}' ")
    assert f"(principal {principal}) lacks the role '{case.missing.name}' on '{scope}'" in failed.stderr
    assert failed.stderr.endswith(f" Fix: {fix}\n")
    assert "Traceback" not in failed.stderr
    compute = world.clusters.client.get(compute_id(world, workspace, "first"))
    assert compute["properties"]["provisioningState"] == "Failed"
    [error] = compute["properties"]["provisioningErrors"]
    assert error["error"]["code"] == case.code
    assert error["error"]["target"] == case.step
    assert failed.stderr == f"ERROR: ({case.code}) {error['error']['message']}\n"

    # Run the printed fix as printed and attach again: it succeeds, or fails on the next step.
    run_fix(world, fix_command(error["error"]["message"]))
    second = attach(world, workspace, "second", cluster_id)
    compute = wait_compute(world, workspace, "second")
    if case.next_code is None:
        assert (second.returncode, compute["properties"]["provisioningState"]) == (0, "Succeeded"), second.stderr
    else:
        assert second.stderr.startswith(f"ERROR: ({case.next_code}) ")
        assert compute["properties"]["provisioningErrors"][0]["error"]["code"] == case.next_code


def test_running_the_same_attach_again_after_its_fix_succeeds(world: World) -> None:
    workspace = "retry-ws"
    principal = user_assigned_workspace(world, workspace)
    cluster_id = world.clusters.managed_id()
    for role in (READER, KUBERNETES_EXTENSION_CONTRIBUTOR):
        grant(world, principal, role, cluster_id)
    failed = attach(world, workspace, "retried", cluster_id)
    assert failed.returncode == 1
    run_fix(world, fix_command(failed.stderr.strip()))

    again = attach(world, workspace, "retried", cluster_id)

    assert wait_compute(world, workspace, "retried")["properties"]["provisioningState"] == "Succeeded"
    assert again.returncode == 0


def test_an_identity_update_does_not_make_a_failed_attach_succeed(world: World) -> None:
    workspace = "upd-failed-ws"
    principal = user_assigned_workspace(world, workspace)
    cluster_id = world.clusters.managed_id()
    for role in (READER, KUBERNETES_EXTENSION_CONTRIBUTOR):
        grant(world, principal, role, cluster_id)
    assert attach(world, workspace, "broken", cluster_id).returncode == 1

    updated = world.cli.line(
        f"ml compute update -g {RG} -w {workspace} -n broken --identity-type SystemAssigned -o none", check=False
    )

    assert updated.returncode == 1  # the update re-runs the attach's checks, which still fail, and says why
    assert updated.stderr.startswith("ERROR: (InternalServerError)")
    compute = wait_compute(world, workspace, "broken")
    assert compute["properties"]["provisioningState"] == "Failed"
    assert compute["properties"]["provisioningErrors"][0]["error"]["code"] == "InternalServerError"


def test_a_cluster_without_the_ml_extension_fails_extension_not_installed(world: World) -> None:
    system_workspace(world, "noext-ws")
    bare_id = world.clusters.managed_id(world.bare)

    failed = attach(world, "noext-ws", "noext", bare_id)

    install = (
        f"tether k8s-extension create --name azureml --extension-type {AZUREML} --config enableTraining=True "
        f"--cluster-type managedClusters --cluster-name {world.bare} --resource-group {RG} --scope cluster"
    )
    message = f"Extension not installed: cluster '{world.bare}' has no {AZUREML} extension. Fix: {install}"
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == f"ERROR: (ExtensionNotInstalled) {message}"
    compute = world.clusters.client.get(compute_id(world, "noext-ws", "noext"))
    assert compute["properties"]["provisioningState"] == "Failed"
    assert compute["properties"]["provisioningErrors"] == [
        {"error": {"code": "ExtensionNotInstalled", "message": message, "target": "extension", "details": []}}
    ]


def test_an_offline_connected_cluster_fails_cluster_not_reachable(world: World) -> None:
    clusters = world.clusters
    system_workspace(world, "offline-ws")
    clusters.kill_agent()
    try:
        clusters.wait_connectivity("Offline", timeout=10)

        started = time.monotonic()
        failed = attach(world, "offline-ws", "offline", clusters.connected_id())
        elapsed = time.monotonic() - started
    finally:
        clusters.restart_agent()
        clusters.wait_connectivity("Connected", timeout=30)

    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1].startswith(
        f"ERROR: (ClusterNotReachable) The cluster '{clusters.connected}' cannot be reached (the connected cluster "
        "is offline: is its agent running?): "
    )
    assert elapsed < 15, "an attach never hangs (B2)"
    compute = clusters.client.get(compute_id(world, "offline-ws", "offline"))
    assert compute["properties"]["provisioningState"] == "Failed"
    assert compute["properties"]["provisioningErrors"][0]["error"]["target"] == "access"
    # Back online, the same cluster attaches.
    assert attach(world, "offline-ws", "online", clusters.connected_id()).returncode == 0


def test_an_unregistered_cluster_fails_cluster_not_found(world: World) -> None:
    system_workspace(world, "ghost-ws")
    ghost = world.clusters.managed_id("ghost")

    failed = attach(world, "ghost-ws", "ghost", ghost)

    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == (
        f"ERROR: (ClusterNotFound) The cluster '{ghost}' is not registered in Tether. "
        f"Fix: tether aks create -g {RG} -n ghost ..."
    )
    compute = world.clusters.client.get(compute_id(world, "ghost-ws", "ghost"))
    assert compute["properties"]["provisioningErrors"][0]["error"]["target"] == "cluster"


def test_an_attach_to_an_unregistered_cluster_grants_no_roles_on_it(world: World) -> None:
    principal = system_workspace(world, "ghost2-ws")
    ghost = world.clusters.managed_id("ghost2")

    failed = attach(world, "ghost2-ws", "ghost", ghost)

    assert failed.returncode == 1
    assert "Granted" not in failed.stderr
    assert world.cli.json(f"role assignment list --assignee {principal} --scope {ghost}") == []


def test_a_caller_who_may_not_assign_roles_is_refused_with_the_grants_an_owner_must_make(world: World) -> None:
    principal = system_workspace(world, "s10-ws")
    cluster_id = world.clusters.managed_id()
    sp = world.cli.json("ad sp create-for-rbac --name s10-contributor")
    assignment = world.cli.json(f"role assignment create --assignee {sp['appId']} --role Contributor -g {RG}")
    sp_object_id = assignment["principalId"]
    contributor = world.cli.as_other(world.tmp / "contributor")
    contributor.line(
        f"login --server {world.server.url} --service-principal "
        f"-u {sp['appId']} -p {sp['password']} --tenant {sp['tenant']} --ca-file {world.clusters.ca_file} -o none"
    )
    grants = [
        f'tether role assignment create --assignee {principal} --role "{role.name}" --scope {cluster_id}'
        for role in CLUSTER_ROLES
    ]

    refused = contributor.run(*attach_args("s10-ws", "by-contrib", cluster_id), check=False)

    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"ERROR: (AuthorizationFailed) The workspace identity ({principal}) needs roles to attach this cluster, and "
        f"the client '{sp['appId']}' with object id '{sp_object_id}' may not assign them. An Owner must run: "
        + " ; ".join(grants),
        *(f"  - {g}" for g in grants),
    ]
    with contributor.client() as client, pytest.raises(ClientError) as caught:
        client.put(compute_id(world, "s10-ws", "by-contrib"), attach_body(cluster_id))
    assert (caught.value.status, caught.value.code) == (403, "AuthorizationFailed")
    assert [(d["code"], d["target"]) for d in caught.value.details] == [
        ("MissingRoleAssignment", "cluster"),
        ("MissingRoleAssignment", "extension"),
        ("MissingRoleAssignment", "access"),
    ]
    assert not_found(world, "s10-ws", "by-contrib")

    # An Owner runs the listed commands; then the Contributor's attach goes through, granting nothing.
    for command in grants:
        run_fix(world, command)
    allowed = contributor.run(*attach_args("s10-ws", "by-contrib", cluster_id), check=False)
    assert allowed.returncode == 0, allowed.stderr
    assert "Granted" not in allowed.stderr
    assert wait_compute(world, "s10-ws", "by-contrib")["properties"]["provisioningState"] == "Succeeded"


# --- S4/S5: one cluster, many targets and workspaces; detach -------------------------------------------------


def test_one_cluster_attached_twice_in_one_workspace_and_in_two_workspaces_then_detached(
    world: World, local_cluster: LocalCluster
) -> None:
    clusters = world.clusters
    system_workspace(world, "team-ws-a")
    system_workspace(world, "team-ws-b")
    targets = [
        ("team-ws-a", "proj-a", clusters.managed_id(), "default"),
        ("team-ws-a", "proj-b", clusters.managed_id(), NAMESPACE),
        ("team-ws-a", "edge-a", clusters.connected_id(), NAMESPACE),
        ("team-ws-b", "shared", clusters.managed_id(), NAMESPACE),
        ("team-ws-b", "edge-b", clusters.connected_id(), "default"),
    ]
    for workspace, name, cluster_id, namespace in targets:
        identity = ("--identity-type", "SystemAssigned")
        attach(world, workspace, name, cluster_id, *identity, "--namespace", namespace, "--no-wait", check=True)
    computes = {(w, n): wait_compute(world, w, n) for w, n, _, _ in targets}

    listed = world.cli.json(f"ml compute list -g {RG} -w team-ws-a --type kubernetes")
    assert sorted(
        (c["name"], c["properties"]["resourceId"], c["properties"]["properties"]["namespace"]) for c in listed
    ) == [
        ("edge-a", clusters.connected_id(), NAMESPACE),
        ("proj-a", clusters.managed_id(), "default"),
        ("proj-b", clusters.managed_id(), NAMESPACE),
    ]
    assert {c["properties"]["provisioningState"] for c in computes.values()} == {"Succeeded"}
    principals = {key: c["identity"]["principalId"] for key, c in computes.items()}
    assert len(set(principals.values())) == len(targets), "each compute target has its own identity"
    assert display_name(world, principals[("team-ws-b", "shared")]) == "team-ws-b/computes/shared"
    in_use = world.cli.line(f"aks delete -g {RG} -n {clusters.managed} --yes", check=False)
    assert in_use.returncode == 1
    assert in_use.stderr.startswith(f"ERROR: (ClusterInUse) The managed cluster '{clusters.managed}' is attached")

    detached = world.cli.line(f"ml compute detach -g {RG} -w team-ws-a -n proj-b --yes")

    assert (detached.stdout, detached.stderr) == ("", "")
    gone = world.cli.line(f"ml compute show -g {RG} -w team-ws-a -n proj-b", check=False)
    assert gone.returncode == 1
    assert gone.stderr == (
        "ERROR: (ComputeNotFound) Compute 'proj-b' was not found in workspace 'team-ws-a'. "
        f"List computes with: tether ml compute list -w team-ws-a -g {RG}\n"
    )
    assert not principal_exists(world, principals[("team-ws-a", "proj-b")]), "S9: deleted at detach"
    for workspace, name, _, _ in targets:
        if name != "proj-b":
            assert wait_compute(world, workspace, name)["properties"]["provisioningState"] == "Succeeded"
            assert principal_exists(world, principals[(workspace, name)])
    # The cluster, its extension and the namespace are untouched.
    assert clusters.client.get(clusters.extension_id(clusters.managed_id()))["properties"]["provisioningState"] == (
        "Succeeded"
    )
    kube = Client(KubeConfig.from_file(local_cluster.kubeconfig_path), trust_env=False)
    try:
        namespace = kube.get(Namespace, NAMESPACE)
    finally:
        kube.close()
    assert namespace.status is not None
    assert namespace.status.phase == "Active"


# --- S14/B5: identity update ------------------------------------------------------------------------------


def test_updating_a_user_assigned_compute_to_system_assigned_creates_its_named_identity(world: World) -> None:
    system_workspace(world, "upd-ws")
    uai = world.compute_identity
    attach(world, "upd-ws", "upd", world.clusters.managed_id(), "--user-assigned-identities", uai["id"], check=True)

    updated = world.cli.json(f"ml compute update -g {RG} -w upd-ws -n upd --identity-type SystemAssigned")

    assert updated["properties"]["provisioningState"] == "Succeeded"
    assert updated["identity"]["type"] == "SystemAssigned"
    assert updated["identity"]["principalId"] != uai["principalId"]
    assert display_name(world, updated["identity"]["principalId"]) == "upd-ws/computes/upd"
    assert updated["properties"]["resourceId"] == world.clusters.managed_id()
    assert principal_exists(world, uai["principalId"]), "a user-assigned identity outlives its use"


def test_updating_a_system_assigned_compute_to_user_assigned(world: World) -> None:
    system_workspace(world, "upd2-ws")
    uai = world.compute_identity
    attach(world, "upd2-ws", "upd2", world.clusters.managed_id(), "--identity-type", "SystemAssigned", check=True)
    before = wait_compute(world, "upd2-ws", "upd2")["identity"]["principalId"]

    updated = world.cli.json(f"ml compute update -g {RG} -w upd2-ws -n upd2 --user-assigned-identities {uai['id']}")

    assert not principal_exists(world, before), "the system-assigned identity is deleted when replaced"
    assert updated["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": {uai["id"]: {"principalId": uai["principalId"], "clientId": uai["clientId"]}},
    }


# --- bad input: refused before anything is created -----------------------------------------------------------

NAME_RULE = "use 2-16 characters: letters, digits and '-', starting with a letter and not ending with '-'."
NS_RULE = (
    "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (RFC 1123 label)."
)
BAD_INPUT = [
    pytest.param(
        ["-n", "bad-id", "--resource-id", "not-an-id"],
        "ERROR: (InvalidResourceId) '/not-an-id' is not a valid resource id: it must start with "
        "/subscriptions/<subscription id>. Expected the form "
        "/subscriptions/<subscription>/resourceGroups/<group>/providers/<Namespace>/<type>/<name>.",
        id="malformed-id",
    ),
    pytest.param(
        ["-n", "bad-id", "--resource-id", "{rg}/providers/Microsoft.ContainerService/managedClusters"],
        "ERROR: (InvalidResourceId) '{rg}/providers/Microsoft.ContainerService/managedClusters' is not a valid "
        "resource id: it ends with the type 'managedClusters' but no name. Expected the form "
        "/subscriptions/<subscription>/resourceGroups/<group>/providers/<Namespace>/<type>/<name>.",
        id="id-without-name",
    ),
    pytest.param(
        ["-n", "bad-type", "--resource-id", "{rg}/providers/Microsoft.MachineLearningServices/workspaces/input-ws"],
        "ERROR: (InvalidResourceId) resourceId '{rg}/providers/Microsoft.MachineLearningServices/workspaces/input-ws' "
        "is a Microsoft.MachineLearningServices/workspaces, but a Microsoft.ContainerService/managedClusters or "
        "Microsoft.Kubernetes/connectedClusters id is required.",
        id="wrong-type-id",
    ),
    pytest.param(
        [
            "-n",
            "ghost-id",
            "--user-assigned-identities",
            "{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nobody",
        ],
        "ERROR: (IdentityNotFound) The user-assigned identity '{rg}/providers/Microsoft.ManagedIdentity/"
        f"userAssignedIdentities/nobody' does not exist. Create it with: tether identity create -g {RG} -n nobody",
        id="unknown-identity",
    ),
    pytest.param(
        ["-n", "not-identity", "--user-assigned-identities", "{rg}/providers/Microsoft.Storage/storageAccounts/blobs"],
        "ERROR: (InvalidResourceId) '{rg}/providers/Microsoft.Storage/storageAccounts/blobs' is a "
        "Microsoft.Storage/storageAccounts, not a user-assigned identity "
        "(Microsoft.ManagedIdentity/userAssignedIdentities).",
        id="identity-of-wrong-type",
    ),
    pytest.param(
        ["-n", "x"],
        f"ERROR: (InvalidResourceName) 'x' is not a valid name for computes: {NAME_RULE}",
        id="name-too-short",
    ),
    pytest.param(
        ["-n", "team_a"],
        f"ERROR: (InvalidResourceName) 'team_a' is not a valid name for computes: {NAME_RULE}",
        id="name-with-underscore",
    ),
    pytest.param(
        ["-n", "a-very-long-compute"],
        f"ERROR: (InvalidResourceName) 'a-very-long-compute' is not a valid name for computes: {NAME_RULE}",
        id="name-too-long",
    ),
    pytest.param(
        ["-n", "bad-ns", "--namespace", "Team_A"],
        f"ERROR: (InvalidNamespace) 'Team_A' is not a valid Kubernetes namespace: {NS_RULE}",
        id="namespace-upper-case",
    ),
    pytest.param(
        ["-n", "bad-ns", "--namespace", "n" * 64],
        f"ERROR: (InvalidNamespace) '{'n' * 64}' is not a valid Kubernetes namespace: {NS_RULE}",
        id="namespace-too-long",
    ),
    pytest.param(
        ["-n", "no-ws", "-w", "missing-ws"],
        f"ERROR: (WorkspaceNotFound) Workspace 'missing-ws' could not be found in resource group '{RG}'. "
        f"Create it with: tether ml workspace create -n missing-ws -g {RG}",
        id="missing-workspace",
    ),
]


@pytest.fixture(scope="module")
def input_ws(world: World) -> str:
    system_workspace(world, "input-ws")
    return "input-ws"


@pytest.mark.parametrize(("args", "expected"), BAD_INPUT)
def test_bad_input_is_refused_and_creates_nothing(world: World, input_ws: str, args: list[str], expected: str) -> None:
    rg_id = world.clusters.group_id
    args = [a.replace("{rg}", rg_id) for a in args]
    workspace = args[args.index("-w") + 1] if "-w" in args else input_ws
    if "--resource-id" not in args:
        args += ["--resource-id", world.clusters.managed_id()]

    refused = world.cli.run("ml", "compute", "attach", "-g", RG, "-w", input_ws, *args, check=False)

    assert refused.returncode == 1
    assert refused.stderr == expected.replace("{rg}", rg_id) + "\n"
    assert computes_in(world, input_ws) == []
    if workspace != input_ws:
        assert world.cli.line(f"ml workspace show -g {RG} -n {workspace}", check=False).returncode == 1


USAGE_ERRORS = [
    pytest.param(["--identity-type", "Bogus"], "'Bogus' is not SystemAssigned or UserAssigned", id="identity-type"),
    pytest.param(["--type", "AmlCompute"], "'AmlCompute': Tether attaches Kubernetes computes only", id="compute-type"),
    pytest.param(
        ["--identity-type", "SystemAssigned", "--user-assigned-identities", "x"],
        "--user-assigned-identities goes with --identity-type UserAssigned.",
        id="system-with-user-ids",
    ),
]


@pytest.mark.parametrize(("args", "expected"), USAGE_ERRORS)
def test_usage_errors_exit_2(world: World, input_ws: str, args: list[str], expected: str) -> None:
    refused = world.cli.run(*attach_args(input_ws, "usage", world.clusters.managed_id()), *args, check=False)

    assert refused.returncode == 2
    assert expected in refused.stderr
    assert computes_in(world, input_ws) == []


# --- B1: dry run --------------------------------------------------------------------------------------------


def dry_run(world: World, workspace: str, cluster_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return world.cli.run(*attach_args(workspace, "dry", cluster_id), "--dry-run", "-o", "table", *extra, check=False)


def test_dry_run_passes_warns_on_a_missing_namespace_and_creates_nothing(world: World) -> None:
    principal = system_workspace(world, "dry-ok-ws")
    managed_id = world.clusters.managed_id()
    attach(world, "dry-ok-ws", "granted", managed_id, check=True)  # S10 grants the roles once

    answer = dry_run(world, "dry-ok-ws", managed_id, "--namespace", "absent-ns")

    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.splitlines() == [
        f"Dry run as the workspace identity dry-ok-ws ({principal}):",
        *(
            f"  [PASS] {step}: holds '{role.name}' on {managed_id}"
            for step, role in zip(("cluster", "extension", "access"), CLUSTER_ROLES, strict=True)
        ),
        "  [PASS] access: the cluster answers; instance types: defaultinstancetype",
        "  [WARN] namespace: namespace 'absent-ns' does not exist in the cluster: the attach does not create it (S7) "
        "and jobs will fail with NamespaceNotFound",
        "         fix: kubectl create namespace absent-ns",
        "Ready to attach.",
    ]
    assert not_found(world, "dry-ok-ws", "dry")


def test_dry_run_lists_every_missing_role_with_its_fix_and_exits_1(world: World) -> None:
    principal = user_assigned_workspace(world, "dry-ua-ws")
    connected_id = world.clusters.connected_id()
    relay = world.relay_namespace_id()

    answer = dry_run(world, "dry-ua-ws", connected_id)

    assert answer.returncode == 1
    lines = answer.stdout.splitlines()
    assert lines[0] == f"Dry run as the workspace identity dry-ua-ws-id ({principal}):"
    failed = [(line.split("] ")[1].split(":")[0]) for line in lines if line.startswith("  [FAIL]")]
    assert failed == ["cluster", "extension", "access", "relay"]
    for role, scope in (*((role, connected_id) for role in CLUSTER_ROLES), (AZURE_RELAY_OWNER, relay)):
        fix = f'tether role assignment create --assignee {principal} --role "{role.name}" --scope {scope}'
        assert f"         fix: {fix}" in lines
    assert lines[-1] == "Not ready: fix the failed checks above."
    assert not_found(world, "dry-ua-ws", "dry")
    assert world.cli.json(f"role assignment list --all --assignee {principal}") == []


def test_dry_run_for_a_system_assigned_workspace_warns_of_the_grants_and_makes_none(world: World) -> None:
    principal = system_workspace(world, "dry-sys-ws")
    connected_id = world.clusters.connected_id()

    answer = world.cli.run(*attach_args("dry-sys-ws", "dry", connected_id), "--dry-run", check=False)

    assert answer.returncode == 0, answer.stderr
    verdict = json.loads(answer.stdout)  # piped: the JSON answer
    assert verdict["ready"] is True
    assert verdict["workspaceIdentity"] == {"principalId": principal, "name": "dry-sys-ws"}
    statuses = [(c["step"], c["status"]) for c in verdict["checks"]]
    assert statuses == [
        ("cluster", "warn"),
        ("extension", "warn"),
        ("access", "warn"),
        ("relay", "warn"),
        ("access", "pass"),
        ("namespace", "pass"),
    ]
    assert all(
        c["message"].endswith("the attach will grant it (system-assigned workspace identity, S10)")
        for c in verdict["checks"][:4]
    )
    assert world.cli.json(f"role assignment list --all --assignee {principal}") == []
    assert not_found(world, "dry-sys-ws", "dry")


def test_dry_run_does_not_pass_a_step_whose_role_is_missing(world: World) -> None:
    principal = user_assigned_workspace(world, "dry-half-ws")
    managed_id = world.clusters.managed_id()
    for role in (READER, KUBERNETES_EXTENSION_CONTRIBUTOR):
        grant(world, principal, role, managed_id)

    answer = dry_run(world, "dry-half-ws", managed_id)

    assert answer.returncode == 1
    access = [line for line in answer.stdout.splitlines() if line.startswith(("  [PASS] access", "  [FAIL] access"))]
    assert access == [
        f"  [FAIL] access: Internal server error: the identity of workspace 'dry-half-ws' (principal {principal}) "
        f"lacks the role 'Azure Kubernetes Service Cluster Admin Role' on '{managed_id}', which it needs because "
        "the attach obtains access to the cluster's API server. Fix: tether role assignment create --assignee "
        f'{principal} --role "Azure Kubernetes Service Cluster Admin Role" --scope {managed_id}'
    ]
