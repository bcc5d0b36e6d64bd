"""Role-based access control over the HTTP API: roles granted at one scope act there and below, nowhere else.

Every test runs on a fresh in-process server with one world (``World``): resource groups rg1 and rg2,
workspace ws1 in rg1, and user-assigned identity id1 in rg1 with federated credential fic1 (the
child-resource level: computes are not served yet). Principals other than the bootstrap admin are
service principals created through the Graph endpoint, each with its own bearer token.

A refused write is always followed by the admin's read proving that it changed nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.integration.helpers import API, create_group, create_workspace, rg_path, wait_operation, ws_path
from tether.domain.principals import Caller, PrincipalKind
from tether.domain.roles import (
    ACR_PULL,
    CONTRIBUTOR,
    KUBERNETES_EXTENSION_CONTRIBUTOR,
    OWNER,
    READER,
    STORAGE_BLOB_DATA_READER,
    RoleDefinition,
)
from tether.store import role_assignments
from tether.testing.server import InProcessServer

AUTHZ = "/providers/Microsoft.Authorization"
ASSIGNMENTS = f"{AUTHZ}/roleAssignments"
WS_TYPE = "Microsoft.MachineLearningServices/workspaces"
UAI_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIC_TYPE = f"{UAI_TYPE}/federatedIdentityCredentials"
ASSIGN_ACTION = "Microsoft.Authorization/roleAssignments/write"
UNASSIGN_ACTION = "Microsoft.Authorization/roleAssignments/delete"
# Tether's actions on resource groups. Azure's are Microsoft.Resources/subscriptions/resourceGroups/*: see
# test_kubernetes_extension_contributor_reads_the_resource_group; fixing that bug changes these two lines.
RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"
RG_WRITE = "Microsoft.Resources/subscriptions/resourceGroups/write"
BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
ISSUER = "https://issuer.example"
FIC_BODY = {"properties": {"issuer": ISSUER, "subject": "system:serviceaccount:ns:sa"}}


# --- the world ----------------------------------------------------------------------------------


@dataclass
class Actor:
    """A service principal and an HTTP client that calls as it."""

    name: str
    object_id: str
    app_id: str
    http: httpx2.AsyncClient


@dataclass
class World:
    server: InProcessServer
    admin: httpx2.AsyncClient
    subscription: str
    rg1: str
    rg2: str
    ws1: str
    uai: str
    fic: str
    ws1_identity: str  # object id of ws1's system-assigned identity

    def role_id(self, role: RoleDefinition) -> str:
        return f"{self.subscription}{AUTHZ}/roleDefinitions/{role.guid}"


ActorFactory = Callable[[str], Awaitable[Actor]]


def uai_path(subscription: str, group: str, name: str) -> str:
    return f"{rg_path(subscription, group)}/providers/{UAI_TYPE}/{name}"


@pytest.fixture
async def world(server: InProcessServer, client: httpx2.AsyncClient) -> World:
    sub = server.subscription
    await create_group(client, sub, "rg1")
    await create_group(client, sub, "rg2")
    workspace = await create_workspace(client, sub, "rg1", "ws1")
    uai = uai_path(sub, "rg1", "id1")
    response = await client.put(uai, params=API, json={})
    assert response.status_code == 201, response.text
    fic = f"{uai}/federatedIdentityCredentials/fic1"
    response = await client.put(fic, params=API, json=FIC_BODY)
    assert response.status_code == 201, response.text
    return World(
        server=server,
        admin=client,
        subscription=sub,
        rg1=rg_path(sub, "rg1"),
        rg2=rg_path(sub, "rg2"),
        ws1=ws_path(sub, "rg1", "ws1"),
        uai=uai,
        fic=fic,
        ws1_identity=workspace["identity"]["principalId"],
    )


@pytest.fixture
async def make_actor(server: InProcessServer, client: httpx2.AsyncClient) -> AsyncIterator[ActorFactory]:
    """Creates a service principal through Graph (as the admin) and a client with its token."""
    async with AsyncExitStack() as stack:

        async def make(name: str) -> Actor:
            response = await client.post("/v1.0/servicePrincipals", json={"displayName": name})
            assert response.status_code == 201, response.text
            body = response.json()
            caller = Caller(
                tenant_id=server.bootstrap.tenant_id,
                object_id=body["id"],
                app_id=body["appId"],
                kind=PrincipalKind.SERVICE_PRINCIPAL,
            )
            http = await stack.enter_async_context(server.client(token=server.token_for(caller)))
            return Actor(name, body["id"], body["appId"], http)

        yield make


@pytest.fixture
async def alice(make_actor: ActorFactory) -> Actor:
    return await make_actor("alice")


@pytest.fixture
async def bob(make_actor: ActorFactory) -> Actor:
    return await make_actor("bob")


# --- helpers ------------------------------------------------------------------------------------


def assignment_body(world: World, role: RoleDefinition | str, principal_id: str) -> dict[str, Any]:
    role_id = role if isinstance(role, str) else world.role_id(role)
    return {"properties": {"roleDefinitionId": role_id, "principalId": principal_id}}


async def put_assignment(
    http: httpx2.AsyncClient,
    world: World,
    scope: str,
    role: RoleDefinition | str,
    principal_id: str,
    *,
    name: str | None = None,
) -> httpx2.Response:
    url = f"{scope}{ASSIGNMENTS}/{name or uuid.uuid4()}"
    return await http.put(url, params=API, json=assignment_body(world, role, principal_id))


async def grant(world: World, scope: str, role: RoleDefinition, principal_id: str) -> str:
    """The admin assigns ``role`` at ``scope`` through the API; returns the assignment's id."""
    response = await put_assignment(world.admin, world, scope, role, principal_id)
    assert response.status_code == 201, response.text
    assignment_id: str = response.json()["id"]
    return assignment_id


async def grant_in_store(world: World, scope: str, role: RoleDefinition, principal_id: str) -> str:
    """Assign at ``scope`` straight in the store, as the API would (row, then cache invalidation).

    Only for the federated-credential (child resource) scope, which the API refuses to assign at:
    see ``test_a_role_can_be_assigned_at_a_child_resource_scope``.
    """
    name = str(uuid.uuid4())
    assignment_id = f"{scope}{ASSIGNMENTS}/{name}"
    async with world.server.services.store.transaction() as session:
        await role_assignments.create(
            session,
            assignment_id=assignment_id,
            name=name,
            subscription_id=world.server.bootstrap.subscription_id,
            scope=scope,
            principal_id=principal_id,
            principal_type="ServicePrincipal",
            role_definition_guid=role.guid,
            description=None,
            created_by=world.server.bootstrap.admin_object_id,
        )
    world.server.services.authorizer.index.invalidate(principal_id)
    return assignment_id


async def assignments_of(world: World, principal_id: str, scope: str | None = None) -> list[dict[str, Any]]:
    """Every assignment of a principal at, above or below ``scope`` (default: the subscription)."""
    response = await world.admin.get(
        f"{scope or world.subscription}{ASSIGNMENTS}",
        params={**API, "$filter": f"principalId eq '{principal_id}'"},
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["value"]
    return found


async def admin_get(world: World, url: str) -> dict[str, Any]:
    response = await world.admin.get(url, params=API)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_forbidden(response: httpx2.Response, actor: Actor, action: str, scope: str) -> None:
    """A 403 ``AuthorizationFailed`` naming the client id, the object id, the action and the scope."""
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "AuthorizationFailed"
    message = error["message"]
    assert f"client '{actor.app_id}'" in message
    assert f"object id '{actor.object_id}'" in message
    assert f"action '{action}'" in message
    assert f"scope '{scope}'" in message


def contains(big: Any, small: Any) -> bool:
    """Whether ``big`` has every key of ``small`` (recursively) with the same value."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and contains(big[k], v) for k, v in small.items())
    return bool(big == small)


def assert_error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


# --- scope levels -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """An assignment scope (a ``World`` attribute) and a resource at or under it that is read and written."""

    scope: str
    target: str
    write_body: dict[str, Any]
    type_: str

    @property
    def write_action(self) -> str:
        return f"{self.type_}/write"

    @property
    def delete_action(self) -> str:
        return f"{self.type_}/delete"

    @property
    def read_action(self) -> str:
        return f"{self.type_}/read"

    async def grant(self, world: World, role: RoleDefinition, principal_id: str) -> str:
        scope = getattr(world, self.scope)
        if self.scope == "fic":
            return await grant_in_store(world, scope, role, principal_id)
        return await grant(world, scope, role, principal_id)


WS_WRITE = {"tags": {"written": "yes"}}
FIC_WRITE = {"properties": {"issuer": ISSUER, "subject": "system:serviceaccount:ns:other"}}
LEVELS = {
    "subscription": Level("subscription", "ws1", WS_WRITE, WS_TYPE),
    "resource_group": Level("rg1", "ws1", WS_WRITE, WS_TYPE),
    "resource": Level("ws1", "ws1", WS_WRITE, WS_TYPE),
    "child_resource": Level("fic", "fic", FIC_WRITE, FIC_TYPE),
}
level_params = pytest.mark.parametrize("level", list(LEVELS.values()), ids=list(LEVELS))


CHILD_SCOPE_BUG = (
    "BUG: providers/role_assignments.py require_scope() looks the scope up in the resources table only; "
    "federated credentials are stored in their own table, so assigning at an existing one is 404 ResourceNotFound"
)


# --- Reader / Contributor / Owner at each scope level --------------------------------------------


@level_params
async def test_reader_reads_but_cannot_write_or_delete(world: World, alice: Actor, level: Level) -> None:
    await level.grant(world, READER, alice.object_id)
    target = getattr(world, level.target)
    before = await admin_get(world, target)

    read = await alice.http.get(target, params=API)
    write = await alice.http.put(target, params=API, json=level.write_body)
    delete = await alice.http.delete(target, params=API)

    assert read.status_code == 200, read.text
    assert read.json() == before
    assert_forbidden(write, alice, level.write_action, target)
    assert_forbidden(delete, alice, level.delete_action, target)
    assert await admin_get(world, target) == before


@level_params
async def test_contributor_writes_but_cannot_assign_roles(world: World, alice: Actor, bob: Actor, level: Level) -> None:
    await level.grant(world, CONTRIBUTOR, alice.object_id)
    target = getattr(world, level.target)
    scope = getattr(world, level.scope)

    write = await alice.http.put(target, params=API, json=level.write_body)
    name = str(uuid.uuid4())
    assign = await put_assignment(alice.http, world, scope, READER, bob.object_id, name=name)

    assert write.status_code == 200, write.text
    after = await admin_get(world, target)
    assert contains(after, level.write_body), after
    assert_forbidden(assign, alice, ASSIGN_ACTION, f"{scope}{ASSIGNMENTS}/{name}")
    assert await assignments_of(world, bob.object_id) == []
    assert (await bob.http.get(target, params=API)).status_code == 403


@pytest.mark.parametrize(
    "level",
    [
        *[pytest.param(LEVELS[k], id=k) for k in ("subscription", "resource_group", "resource")],
        pytest.param(
            LEVELS["child_resource"],
            id="child_resource",
        ),
    ],
)
async def test_owner_assigns_roles(world: World, alice: Actor, bob: Actor, level: Level) -> None:
    await level.grant(world, OWNER, alice.object_id)
    target = getattr(world, level.target)
    scope = getattr(world, level.scope)
    assert (await bob.http.get(target, params=API)).status_code == 403

    assign = await put_assignment(alice.http, world, scope, READER, bob.object_id)

    assert assign.status_code == 201, assign.text
    body = assign.json()
    assert body["properties"]["principalId"] == bob.object_id
    assert body["properties"]["roleDefinitionName"] == "Reader"
    assert body["properties"]["scope"] == scope
    assert body["properties"]["createdBy"] == alice.object_id
    assert (await bob.http.get(target, params=API)).status_code == 200


async def test_a_role_can_be_assigned_at_a_child_resource_scope(world: World, alice: Actor) -> None:
    """The federated credential exists (the admin reads it); the admin assigns a role on it through the API."""
    await admin_get(world, world.fic)

    response = await put_assignment(world.admin, world, world.fic, READER, alice.object_id)

    assert response.status_code == 201, response.text
    assert (await alice.http.get(world.fic, params=API)).status_code == 200
    assert (await alice.http.get(world.uai, params=API)).status_code == 403


# --- scope boundaries ---------------------------------------------------------------------------


async def test_a_role_on_one_resource_group_gives_nothing_in_another(world: World, alice: Actor) -> None:
    await grant(world, world.rg1, CONTRIBUTOR, alice.object_id)
    ws9 = ws_path(world.subscription, "rg2", "ws9")
    rg2_before = await admin_get(world, world.rg2)

    assert (await alice.http.get(world.rg1, params=API)).status_code == 200
    assert (await alice.http.put(world.ws1, params=API, json=WS_WRITE)).status_code == 200
    assert_forbidden(await alice.http.get(world.rg2, params=API), alice, RG_READ, world.rg2)
    listed = await alice.http.get(f"{world.rg2}/providers/{WS_TYPE}", params=API)
    assert_forbidden(listed, alice, f"{WS_TYPE}/read", world.rg2)
    assert_forbidden(await alice.http.put(ws9, params=API, json={}), alice, f"{WS_TYPE}/write", ws9)
    assert_forbidden(
        await alice.http.put(world.rg2, params=API, json={"location": "westeurope", "tags": {"x": "y"}}),
        alice,
        RG_WRITE,
        world.rg2,
    )

    assert (await world.admin.get(ws9, params=API)).status_code == 404
    assert await admin_get(world, world.rg2) == rg2_before


async def test_a_resource_group_role_does_not_leak_to_a_group_whose_name_it_prefixes(
    world: World, alice: Actor
) -> None:
    await create_group(world.admin, world.subscription, "rg10")
    rg10 = rg_path(world.subscription, "rg10")
    await grant(world, world.rg1, OWNER, alice.object_id)

    assert_forbidden(await alice.http.get(rg10, params=API), alice, RG_READ, rg10)


async def test_an_assignment_on_a_resource_is_inherited_by_its_child(world: World, alice: Actor) -> None:
    await grant(world, world.uai, READER, alice.object_id)
    before = await admin_get(world, world.fic)

    read = await alice.http.get(world.fic, params=API)
    listed = await alice.http.get(f"{world.uai}/federatedIdentityCredentials", params=API)
    write = await alice.http.put(world.fic, params=API, json=FIC_WRITE)

    assert read.status_code == 200, read.text
    assert [c["name"] for c in listed.json()["value"]] == ["fic1"]
    assert_forbidden(write, alice, f"{FIC_TYPE}/write", world.fic)
    assert await admin_get(world, world.fic) == before


@pytest.mark.parametrize(
    ("scope", "parent", "action"),
    [
        ("rg1", "subscription", "Microsoft.Resources/subscriptions/read"),
        ("ws1", "rg1", RG_READ),
        ("uai", "rg1", RG_READ),
        ("fic", "uai", f"{UAI_TYPE}/read"),
    ],
    ids=["group-to-subscription", "resource-to-group", "identity-to-group", "child-to-resource"],
)
async def test_an_assignment_at_a_child_scope_gives_nothing_at_the_parent(
    world: World, alice: Actor, scope: str, parent: str, action: str
) -> None:
    scope_id, parent_id = getattr(world, scope), getattr(world, parent)
    if scope == "fic":
        await grant_in_store(world, scope_id, OWNER, alice.object_id)
    else:
        await grant(world, scope_id, OWNER, alice.object_id)

    assert (await alice.http.get(scope_id, params=API)).status_code == 200
    assert_forbidden(await alice.http.get(parent_id, params=API), alice, action, parent_id)


async def test_kubernetes_extension_contributor_reads_the_resource_group(world: World, alice: Actor) -> None:
    """The role lists ``Microsoft.Resources/subscriptions/resourceGroups/read`` (Azure's action for reading a group)."""
    await grant(world, world.rg1, KUBERNETES_EXTENSION_CONTRIBUTOR, alice.object_id)

    response = await alice.http.get(world.rg1, params=API)

    assert response.status_code == 200, response.text


# --- assignments take and lose effect at once ---------------------------------------------------


async def test_granting_and_revoking_take_effect_at_once(world: World, alice: Actor) -> None:
    assert (await alice.http.get(world.ws1, params=API)).status_code == 403  # caches "no assignments"
    assignment_id = await grant(world, world.rg1, READER, alice.object_id)
    assert (await alice.http.get(world.ws1, params=API)).status_code == 200  # caches the Reader

    deleted = await world.admin.delete(assignment_id, params=API)

    assert deleted.status_code == 200, deleted.text
    assert_forbidden(await alice.http.get(world.ws1, params=API), alice, f"{WS_TYPE}/read", world.ws1)
    assert await assignments_of(world, alice.object_id) == []
    assert (await world.admin.delete(assignment_id, params=API)).status_code == 204


async def test_contributor_cannot_delete_role_assignments(world: World, alice: Actor, bob: Actor) -> None:
    await grant(world, world.subscription, CONTRIBUTOR, alice.object_id)
    bobs = await grant(world, world.rg1, READER, bob.object_id)

    response = await alice.http.delete(bobs, params=API)

    assert_forbidden(response, alice, UNASSIGN_ACTION, bobs)
    assert [a["id"] for a in await assignments_of(world, bob.object_id)] == [bobs]
    assert (await bob.http.get(world.rg1, params=API)).status_code == 200


async def test_reader_lists_assignments_and_atscope_and_principal_filters(
    world: World, alice: Actor, bob: Actor
) -> None:
    alices = await grant(world, world.rg1, READER, alice.object_id)
    bobs = await grant(world, world.ws1, READER, bob.object_id)
    collection = f"{world.rg1}{ASSIGNMENTS}"

    everything = await alice.http.get(collection, params=API)
    at_scope = await alice.http.get(collection, params={**API, "$filter": "atScope()"})
    bob_only = await alice.http.get(collection, params={**API, "$filter": f"principalId eq '{bob.object_id}'"})

    assert everything.status_code == 200, everything.text
    ids = [a["id"] for a in everything.json()["value"]]
    assert alices in ids
    assert bobs in ids  # below the scope
    assert any(
        a["properties"]["principalId"] == world.server.bootstrap.admin_object_id for a in everything.json()["value"]
    )
    at_scope_ids = [a["id"] for a in at_scope.json()["value"]]
    assert alices in at_scope_ids
    assert bobs not in at_scope_ids
    assert [a["id"] for a in bob_only.json()["value"]] == [bobs]


# --- assignment errors --------------------------------------------------------------------------


async def test_a_duplicate_assignment_is_409_role_assignment_exists(world: World, alice: Actor) -> None:
    first = await grant(world, world.rg1, READER, alice.object_id)

    again = await put_assignment(world.admin, world, world.rg1, READER, alice.object_id)

    assert_error(again, 409, "RoleAssignmentExists")
    assert [a["id"] for a in await assignments_of(world, alice.object_id)] == [first]


async def test_repeating_the_same_put_is_idempotent_but_changing_it_is_refused(world: World, alice: Actor) -> None:
    name = str(uuid.uuid4())
    created = await put_assignment(world.admin, world, world.rg1, READER, alice.object_id, name=name)
    assert created.status_code == 201, created.text

    repeated = await put_assignment(world.admin, world, world.rg1, READER, alice.object_id, name=name)
    changed = await put_assignment(world.admin, world, world.rg1, OWNER, alice.object_id, name=name)

    assert repeated.status_code == 200, repeated.text
    assert repeated.json() == created.json()
    assert_error(changed, 409, "RoleAssignmentUpdateNotPermitted")
    assert [a["properties"]["roleDefinitionName"] for a in await assignments_of(world, alice.object_id)] == ["Reader"]


@dataclass(frozen=True)
class BadAssignment:
    scope: str  # a World attribute, or a path relative to the subscription when it starts with '/'
    role: str | None  # a role definition id (None: Reader's)
    principal: str | None  # an object id (None: alice's)
    name: str | None  # the assignment name (None: a fresh GUID)
    status: int
    code: str
    says: str


MISSING_ID = "0b4d4d2c-6f44-4e5f-9d65-2a7a3c2b9f11"
BAD_ASSIGNMENTS = {
    "unknown-principal": BadAssignment("rg1", None, MISSING_ID, None, 400, "PrincipalNotFound", MISSING_ID),
    "unknown-role-guid": BadAssignment(
        "rg1", f"{AUTHZ}/roleDefinitions/{MISSING_ID}", None, None, 400, "RoleDefinitionDoesNotExist", MISSING_ID
    ),
    "unknown-role-name": BadAssignment(
        "rg1", "Data Wizard", None, None, 400, "RoleDefinitionDoesNotExist", "Data Wizard"
    ),
    "name-not-a-guid": BadAssignment("rg1", None, None, "not-a-guid", 400, "InvalidRoleAssignmentId", "not-a-guid"),
    "missing-group": BadAssignment("/resourceGroups/nope", None, None, None, 404, "ResourceGroupNotFound", "nope"),
    "missing-resource": BadAssignment(
        f"/resourceGroups/rg1/providers/{WS_TYPE}/nope", None, None, None, 404, "ResourceNotFound", "workspaces/nope"
    ),
    "resource-in-missing-group": BadAssignment(
        f"/resourceGroups/nope/providers/{WS_TYPE}/ws1", None, None, None, 404, "ResourceGroupNotFound", "nope"
    ),
}


@pytest.mark.parametrize("bad", list(BAD_ASSIGNMENTS.values()), ids=list(BAD_ASSIGNMENTS))
async def test_bad_assignments_are_refused_and_create_nothing(world: World, alice: Actor, bad: BadAssignment) -> None:
    scope = world.subscription + bad.scope if bad.scope.startswith("/") else getattr(world, bad.scope)
    role = bad.role if bad.role is None or not bad.role.startswith("/") else world.subscription + bad.role

    response = await put_assignment(
        world.admin, world, scope, role or world.role_id(READER), bad.principal or alice.object_id, name=bad.name
    )

    error = assert_error(response, bad.status, bad.code)
    assert bad.says in error["message"]
    assert await assignments_of(world, alice.object_id) == []


async def test_an_unknown_assignment_is_404(world: World) -> None:
    response = await world.admin.get(f"{world.rg1}{ASSIGNMENTS}/{MISSING_ID}", params=API)

    assert_error(response, 404, "RoleAssignmentNotFound")


# --- Graph: service principals ------------------------------------------------------------------


async def test_a_non_admin_cannot_manage_service_principals_but_can_find_them(
    world: World, alice: Actor, bob: Actor
) -> None:
    await grant(world, world.subscription, CONTRIBUTOR, alice.object_id)  # everything but role assignment

    created = await alice.http.post("/v1.0/servicePrincipals", json={"displayName": "intruder"})
    deleted = await alice.http.delete(f"/v1.0/servicePrincipals/{bob.object_id}")
    password = await alice.http.post(f"/v1.0/servicePrincipals/{bob.object_id}/addPassword")
    by_name = await alice.http.get("/v1.0/servicePrincipals", params={"$filter": "displayName eq 'bob'"})
    by_prefix = await alice.http.get("/v1.0/servicePrincipals", params={"$filter": "startswith(displayName,'BO')"})
    by_id = await alice.http.get(f"/v1.0/servicePrincipals/{bob.object_id}")

    for refused in (created, deleted, password):
        error = assert_error(refused, 403, "Authorization_RequestDenied")
        assert alice.app_id in error["message"]
    assert [(p["id"], p["appId"]) for p in by_name.json()["value"]] == [(bob.object_id, bob.app_id)]
    assert [p["id"] for p in by_prefix.json()["value"]] == [bob.object_id]
    assert by_id.status_code == 200
    assert by_id.json()["displayName"] == "bob"
    intruders = await world.admin.get("/v1.0/servicePrincipals", params={"$filter": "displayName eq 'intruder'"})
    assert intruders.json()["value"] == []
    assert (await world.admin.get(f"/v1.0/servicePrincipals/{bob.object_id}")).status_code == 200


async def test_owning_a_resource_group_does_not_make_a_directory_admin(world: World, alice: Actor) -> None:
    await grant(world, world.rg1, OWNER, alice.object_id)

    response = await alice.http.post("/v1.0/servicePrincipals", json={"displayName": "intruder"})

    assert_error(response, 403, "Authorization_RequestDenied")


async def test_an_owner_of_the_subscription_may_create_service_principals(world: World, alice: Actor) -> None:
    await grant(world, world.subscription, OWNER, alice.object_id)

    response = await alice.http.post("/v1.0/servicePrincipals", json={"displayName": "carol"})

    assert response.status_code == 201, response.text
    assert response.json()["displayName"] == "carol"


async def test_deleting_a_service_principal_removes_its_assignments_and_access(
    world: World, alice: Actor, bob: Actor
) -> None:
    await grant(world, world.rg1, READER, bob.object_id)
    await grant(world, world.ws1, CONTRIBUTOR, bob.object_id)
    kept = await grant(world, world.rg1, READER, alice.object_id)
    assert (await bob.http.get(world.ws1, params=API)).status_code == 200  # cached

    response = await world.admin.delete(f"/v1.0/servicePrincipals/{bob.object_id}")

    assert response.status_code == 204, response.text
    assert await assignments_of(world, bob.object_id) == []
    assert [a["id"] for a in await assignments_of(world, alice.object_id)] == [kept]
    assert_forbidden(await bob.http.get(world.ws1, params=API), bob, f"{WS_TYPE}/read", world.ws1)
    missing = await world.admin.get(f"/v1.0/servicePrincipals/{bob.object_id}")
    assert_error(missing, 404, "Request_ResourceNotFound")
    again = await put_assignment(world.admin, world, world.rg1, READER, bob.object_id)
    assert_error(again, 400, "PrincipalNotFound")


# --- role definitions ---------------------------------------------------------------------------


BUILT_INS = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "AcrDelete": "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Kubernetes Extension Contributor": "85cb6faf-e071-4c9b-8136-154b5a04f717",
    "Azure Kubernetes Service Cluster Admin Role": "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8",
    "Azure Kubernetes Service Contributor Role": "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8",
    "Azure Relay Owner": "2787bf04-f1f5-4bfe-8383-c8a24483ee38",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
}


async def test_role_definitions_list_the_built_ins_with_azures_guids(world: World) -> None:
    response = await world.admin.get(f"{world.subscription}{AUTHZ}/roleDefinitions", params=API)

    assert response.status_code == 200, response.text
    roles = response.json()["value"]
    assert {r["properties"]["roleName"]: r["name"] for r in roles} == BUILT_INS
    for role in roles:
        assert role["id"] == f"{world.subscription}{AUTHZ}/roleDefinitions/{role['name']}"
        assert role["type"] == "Microsoft.Authorization/roleDefinitions"
        assert role["properties"]["type"] == "BuiltInRole"
    contributor = next(r for r in roles if r["properties"]["roleName"] == "Contributor")
    assert contributor["properties"]["permissions"] == [
        {
            "actions": ["*"],
            "notActions": [
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
            ],
            "dataActions": [],
            "notDataActions": [],
        }
    ]


@pytest.mark.parametrize("spelling", ["AcrPull", "acrpull"])
async def test_role_definitions_filter_by_role_name(world: World, spelling: str) -> None:
    response = await world.admin.get(
        f"{world.subscription}{AUTHZ}/roleDefinitions", params={**API, "$filter": f"roleName eq '{spelling}'"}
    )

    assert response.status_code == 200, response.text
    [role] = response.json()["value"]
    assert role["name"] == "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    assert role["properties"]["roleName"] == "AcrPull"
    assert role["properties"]["permissions"][0]["actions"] == ["Microsoft.ContainerRegistry/registries/pull/read"]


async def test_role_definitions_get_by_guid_and_unknown_is_404(world: World) -> None:
    base = f"{world.subscription}{AUTHZ}/roleDefinitions"

    found = await world.admin.get(f"{base}/{BUILT_INS['Storage Blob Data Reader']}", params=API)
    missing = await world.admin.get(f"{base}/{MISSING_ID}", params=API)
    created = await world.admin.put(f"{base}/{MISSING_ID}", params=API, json={"properties": {}})

    assert found.json()["properties"]["permissions"][0]["dataActions"] == [BLOB_READ]
    assert_error(missing, 404, "RoleDefinitionDoesNotExist")
    assert_error(created, 400, "NotSupported")


# --- checkAccess --------------------------------------------------------------------------------


async def check_access(
    http: httpx2.AsyncClient, scope: str, principal_id: str, action: str, *, data: bool | None = None
) -> httpx2.Response:
    body: dict[str, Any] = {"principalId": principal_id, "action": action}
    if data is not None:
        body["isDataAction"] = data
    return await http.post(f"{scope}{AUTHZ}/checkAccess", params=API, json=body)


async def test_check_access_allowed_names_the_granting_assignment(world: World, alice: Actor) -> None:
    await grant(world, world.subscription, READER, alice.object_id)
    granting = await grant(world, world.rg1, CONTRIBUTOR, alice.object_id)

    response = await check_access(world.admin, world.ws1, alice.object_id, f"{WS_TYPE}/write")

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["allowed"] is True
    assert answer["principalId"] == alice.object_id
    assert answer["principalName"] == "alice"
    assert answer["scope"] == world.ws1
    assert answer["grantedBy"] == {
        "roleAssignmentId": granting,
        "roleDefinitionName": "Contributor",
        "scope": world.rg1,
    }
    assert answer["fix"] is None


async def test_check_access_denied_lists_the_roles_that_would_grant_and_a_fix(world: World, alice: Actor) -> None:
    await grant(world, world.rg1, READER, alice.object_id)

    response = await check_access(world.admin, world.ws1, alice.object_id, f"{WS_TYPE}/write")

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["allowed"] is False
    assert answer["grantedBy"] is None
    assert answer["rolesThatWouldGrant"] == ["Contributor", "Owner"]
    assert answer["fix"] == (
        f'tether role assignment create --assignee {alice.object_id} --role "Contributor" --scope {world.ws1}'
    )


async def test_check_access_fix_names_the_narrowest_role(world: World, alice: Actor) -> None:
    registry = f"{world.rg1}/providers/Microsoft.ContainerRegistry/registries/reg1"

    response = await check_access(
        world.admin, registry, alice.object_id, "Microsoft.ContainerRegistry/registries/pull/read"
    )

    answer = response.json()
    assert answer["allowed"] is False
    assert set(answer["rolesThatWouldGrant"]) == {
        "Owner",
        "Contributor",
        "Reader",
        "AcrPull",
        "AcrPush",
        "User Access Administrator",  # */read, as in Azure
    }
    assert answer["fix"] == (
        f'tether role assignment create --assignee {alice.object_id} --role "AcrPull" --scope {registry}'
    )


async def test_check_access_data_actions_come_only_from_data_roles(world: World, alice: Actor) -> None:
    await grant(world, world.subscription, OWNER, alice.object_id)

    as_data = await check_access(world.admin, world.rg1, alice.object_id, BLOB_READ, data=True)
    as_management = await check_access(world.admin, world.rg1, alice.object_id, BLOB_READ, data=False)

    denied = as_data.json()
    assert denied["allowed"] is False
    assert denied["isDataAction"] is True
    assert denied["rolesThatWouldGrant"] == [
        "Storage Blob Data Reader",
        "Storage Blob Data Owner",
        "Storage Blob Data Contributor",
    ]
    assert denied["fix"] == (
        f'tether role assignment create --assignee {alice.object_id} --role "Storage Blob Data Reader" '
        f"--scope {world.rg1}"
    )
    assert as_management.json()["allowed"] is True

    granting = await grant(world, world.rg1, STORAGE_BLOB_DATA_READER, alice.object_id)
    read = (await check_access(world.admin, world.rg1, alice.object_id, BLOB_READ, data=True)).json()
    write = (
        await check_access(world.admin, world.rg1, alice.object_id, BLOB_READ.replace("/read", "/write"), data=True)
    ).json()

    assert read["allowed"] is True
    assert read["grantedBy"] == {
        "roleAssignmentId": granting,
        "roleDefinitionName": "Storage Blob Data Reader",
        "scope": world.rg1,
    }
    assert write["allowed"] is False
    assert write["rolesThatWouldGrant"] == ["Storage Blob Data Owner", "Storage Blob Data Contributor"]


async def test_check_access_needs_role_assignment_read_and_a_known_principal(
    world: World, alice: Actor, bob: Actor
) -> None:
    refused = await check_access(bob.http, world.rg1, alice.object_id, f"{WS_TYPE}/read")
    await grant(world, world.rg1, READER, bob.object_id)
    allowed = await check_access(bob.http, world.rg1, alice.object_id, f"{WS_TYPE}/read")
    unknown = await check_access(bob.http, world.rg1, MISSING_ID, f"{WS_TYPE}/read")

    assert_forbidden(refused, bob, "Microsoft.Authorization/roleAssignments/read", world.rg1)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["allowed"] is False
    error = assert_error(unknown, 404, "PrincipalNotFound")
    assert MISSING_ID in error["message"]


# --- deletions take their assignments with them -------------------------------------------------


async def delete_and_wait(world: World, url: str) -> None:
    response = await world.admin.delete(url, params=API)
    assert response.status_code == 202, response.text
    status = await wait_operation(world.admin, response.headers["Azure-AsyncOperation"])
    assert status["status"] == "Succeeded", status


async def test_deleting_a_resource_group_removes_assignments_scoped_inside_it(
    world: World, alice: Actor, bob: Actor
) -> None:
    await grant(world, world.rg1, READER, alice.object_id)
    await grant(world, world.ws1, CONTRIBUTOR, alice.object_id)
    await grant(world, world.uai, READER, alice.object_id)
    at_rg2 = await grant(world, world.rg2, READER, alice.object_id)
    at_subscription = await grant(world, world.subscription, ACR_PULL, bob.object_id)

    await delete_and_wait(world, world.rg1)

    assert [a["id"] for a in await assignments_of(world, alice.object_id)] == [at_rg2]
    assert [a["id"] for a in await assignments_of(world, bob.object_id)] == [at_subscription]
    assert (await alice.http.get(world.rg2, params=API)).status_code == 200


async def test_deleting_a_resource_group_revokes_its_assignments_at_once(world: World, alice: Actor) -> None:
    await grant(world, world.rg1, READER, alice.object_id)
    assert (await alice.http.get(world.rg1, params=API)).status_code == 200  # cached

    await delete_and_wait(world, world.rg1)
    await create_group(world.admin, world.subscription, "rg1")  # same name, new group, nobody granted

    assert_forbidden(await alice.http.get(world.rg1, params=API), alice, RG_READ, world.rg1)


async def test_deleting_a_resource_group_deletes_its_user_assigned_identities_and_their_assignments(
    world: World,
) -> None:
    identity = (await admin_get(world, world.uai))["properties"]["principalId"]
    await grant(world, world.rg2, CONTRIBUTOR, identity)

    await delete_and_wait(world, world.rg1)

    assert await assignments_of(world, identity) == []
    assert (await world.admin.get(f"/v1.0/servicePrincipals/{identity}")).status_code == 404


async def test_deleting_a_user_assigned_identity_removes_its_assignments(world: World) -> None:
    identity = (await admin_get(world, world.uai))["properties"]["principalId"]
    await grant(world, world.rg2, CONTRIBUTOR, identity)

    response = await world.admin.delete(world.uai, params=API)

    assert response.status_code == 200, response.text
    assert await assignments_of(world, identity) == []
    assert (await world.admin.get(f"/v1.0/servicePrincipals/{identity}")).status_code == 404


async def test_deleting_a_workspace_removes_its_system_identitys_assignments(world: World, alice: Actor) -> None:
    await grant(world, world.rg2, CONTRIBUTOR, world.ws1_identity)
    await grant(world, world.subscription, ACR_PULL, world.ws1_identity)
    await grant(world, world.ws1, READER, alice.object_id)
    kept = await grant(world, world.rg1, READER, alice.object_id)
    assert len(await assignments_of(world, world.ws1_identity)) == 2

    await delete_and_wait(world, world.ws1)

    assert await assignments_of(world, world.ws1_identity) == []
    assert [a["id"] for a in await assignments_of(world, alice.object_id)] == [kept]
    missing = await world.admin.get(f"/v1.0/servicePrincipals/{world.ws1_identity}")
    assert_error(missing, 404, "Request_ResourceNotFound")


async def test_deleting_a_workspace_revokes_its_system_identitys_access_at_once(world: World) -> None:
    await grant(world, world.rg2, CONTRIBUTOR, world.ws1_identity)
    app_id = (await world.admin.get(f"/v1.0/servicePrincipals/{world.ws1_identity}")).json()["appId"]
    caller = Caller(
        tenant_id=world.server.bootstrap.tenant_id,
        object_id=world.ws1_identity,
        app_id=app_id,
        kind=PrincipalKind.SYSTEM_ASSIGNED_IDENTITY,
    )
    async with world.server.client(token=world.server.token_for(caller)) as http:
        identity = Actor("ws1", world.ws1_identity, app_id, http)
        assert (await identity.http.get(world.rg2, params=API)).status_code == 200  # cached

        await delete_and_wait(world, world.ws1)

        assert_forbidden(await identity.http.get(world.rg2, params=API), identity, RG_READ, world.rg2)
