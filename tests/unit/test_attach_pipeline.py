"""The attach pipeline's order: what the attach checks first decides which error a user sees, and the
preflight shows the same steps grouped (roles, then Tether's records, then the cluster)."""

from __future__ import annotations

from tether.domain import resource_types as rt
from tether.domain.attach import AttachTarget, ExtensionRecord, attach_requirements, missing_role
from tether.domain.ids import ResourceId
from tether.domain.principals import Caller, PrincipalKind
from tether.errors import Internal
from tether.reconcile.attach import Group, attach_steps

SUB = "00000000-0000-0000-0000-00000000000a"
MANAGED = ResourceId.resource(SUB, "rg1", rt.MANAGED_CLUSTERS, "c1")
CONNECTED = ResourceId.resource(SUB, "rg1", rt.CONNECTED_CLUSTERS, "c2")


def _outline(cluster_id: ResourceId, *, attach_only: bool) -> list[tuple[str, Group]]:
    return [(s.name, s.group) for s in attach_steps(cluster_id) if s.in_attach or not attach_only]


def test_the_attach_checks_a_managed_cluster_in_the_documented_order() -> None:
    assert _outline(MANAGED, attach_only=True) == [
        ("cluster", Group.STATE),
        ("cluster", Group.ROLES),
        ("extension", Group.ROLES),
        ("extension", Group.STATE),
        ("access", Group.ROLES),
        ("access", Group.CLUSTER),
    ]


def test_a_connected_cluster_adds_the_relay_before_the_cluster_is_dialled() -> None:
    assert _outline(CONNECTED, attach_only=True)[5:] == [
        ("relay", Group.STATE),
        ("relay", Group.ROLES),
        ("access", Group.CLUSTER),
    ]


def test_only_the_preflight_warns_about_the_extension_and_the_namespace() -> None:
    preflight_only = [(s.name, s.group) for s in attach_steps(MANAGED) if not s.in_attach]
    assert preflight_only == [("extension", Group.CLUSTER), ("namespace", Group.CLUSTER)]


def test_a_missing_role_names_the_principal_the_role_the_scope_and_the_fix() -> None:
    caller = Caller(tenant_id="t", object_id="p-1", app_id="a-1", kind=PrincipalKind.SYSTEM_ASSIGNED_IDENTITY)
    extension = ExtensionRecord(name="ml", provisioning_state="Succeeded", principal_id=None, release_train="stable")
    target = AttachTarget(
        compute_id=ResourceId.resource(SUB, "rg1", rt.COMPUTES, "ws1", "k8s"),
        workspace_name="ws1",
        caller=caller,
        cluster_id=MANAGED,
        namespace="default",
        cluster_exists=True,
        extension=extension,
        relay_exists=False,
    )
    access = next(r for r in attach_requirements(MANAGED) if r.step == "access")

    error = missing_role(target, access)

    assert isinstance(error, Internal)
    assert (error.code, error.target) == ("InternalServerError", "access")
    assert error.message.startswith(
        f"Internal server error: the identity of workspace 'ws1' (principal p-1) lacks the role "
        f"'{access.role.name}' on '{MANAGED}'"
    )
    assert error.message.endswith(f"Fix: {access.grant_command('p-1')}")
