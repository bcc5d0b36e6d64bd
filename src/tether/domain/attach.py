"""What attaching a cluster requires of the workspace identity (S10, S11), and what its checks answer, as data.

Each requirement names the attach step, the built-in role, the action that proves the role is held,
the scope, and the error code an attach fails with when it is missing (the seed's categories:
"extension not installed" for Kubernetes Extension Contributor, "internal server" for Cluster Admin).
The table is also what the automatic grants of S10 give and what ``--dry-run`` checks. The attach
pipeline that checks them, step by step, is ``reconcile.attach``; this module holds its pure types:
what it knows before it starts (:class:`AttachTarget`) and its verdicts (:class:`Check`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.principals import Caller
from tether.domain.roles import (
    AKS_CLUSTER_ADMIN,
    AZURE_RELAY_OWNER,
    KUBERNETES_EXTENSION_CONTRIBUTOR,
    READER,
    RoleDefinition,
)
from tether.errors import Internal, TetherError

_RELAY_NAMESPACE_MAX = 50
_RELAY_SUFFIX = 6
RELAY_AUTHORIZATION_RULE = "azureml_rw"
_CODE_CLASS: dict[str, type[TetherError]] = {"InternalServerError": Internal}


@dataclass(frozen=True)
class Requirement:
    step: str
    role: RoleDefinition
    action: str
    scope: ResourceId
    error_code: str
    why: str

    def grant_command(self, principal_id: str) -> str:
        return f'tether role assignment create --assignee {principal_id} --role "{self.role.name}" --scope {self.scope}'


def is_connected(cluster_id: ResourceId) -> bool:
    return cluster_id.full_type == rt.CONNECTED_CLUSTERS


def cluster_access_action(cluster_id: ResourceId) -> str:
    return f"{cluster_id.full_type}/listClusterAdminCredential/action"


def relay_namespace_name(cluster_id: ResourceId) -> str:
    """Letters and digits of ``<cluster>-<subscription>-<group>-relay``, hashed down to 50 characters (as Azure ML)."""
    raw = f"{cluster_id.name}-{cluster_id.subscription_id}-{cluster_id.resource_group}-relay"
    plain = "".join(ch for ch in raw if ch.isalnum())
    if len(plain) <= _RELAY_NAMESPACE_MAX:
        return plain
    digest = hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()[:_RELAY_SUFFIX]
    return plain[: _RELAY_NAMESPACE_MAX - _RELAY_SUFFIX] + digest


def relay_ids(cluster_id: ResourceId) -> tuple[ResourceId, ResourceId, ResourceId]:
    """A connected cluster's relay namespace, hybrid connection (named after the cluster) and access rule."""
    namespace = ResourceId.resource(
        cluster_id.subscription_id, cluster_id.resource_group, rt.RELAY_NAMESPACES, relay_namespace_name(cluster_id)
    )
    connection = namespace.child("hybridConnections", cluster_id.name)
    return namespace, connection, connection.child("authorizationRules", RELAY_AUTHORIZATION_RULE)


def attach_requirements(cluster_id: ResourceId) -> list[Requirement]:
    """The roles the workspace identity needs to attach ``cluster_id``, in the order the attach checks them."""
    requirements = [
        Requirement(
            "cluster",
            READER,
            f"{cluster_id.full_type}/read",
            cluster_id,
            "AuthorizationFailed",
            "the attach reads the cluster",
        ),
        Requirement(
            "extension",
            KUBERNETES_EXTENSION_CONTRIBUTOR,
            # Reader already grants extensions/read: only the write proves the role is held.
            f"{rt.EXTENSIONS}/write",
            cluster_id,
            "ExtensionNotInstalled",
            "the attach finds the ML extension on the cluster",
        ),
        Requirement(
            "access",
            AKS_CLUSTER_ADMIN,
            cluster_access_action(cluster_id),
            cluster_id,
            "InternalServerError",
            "the attach obtains access to the cluster's API server",
        ),
    ]
    if is_connected(cluster_id):
        namespace, _, _ = relay_ids(cluster_id)
        requirements.append(
            Requirement(
                "relay",
                AZURE_RELAY_OWNER,
                "Microsoft.Relay/namespaces/hybridConnections/authorizationRules/listKeys/action",
                namespace,
                "AuthorizationFailed",
                "the attach reaches the connected cluster through its relay",
            )
        )
    return requirements


@dataclass(frozen=True)
class ExtensionRecord:
    """The cluster's ML extension as Tether records it."""

    name: str
    provisioning_state: str
    principal_id: str | None
    release_train: str


@dataclass(frozen=True)
class AttachTarget:
    """What the attach pipeline knows before it starts, read in one short transaction."""

    compute_id: ResourceId
    workspace_name: str
    caller: Caller
    cluster_id: ResourceId
    namespace: str
    cluster_exists: bool
    extension: ExtensionRecord | None
    relay_exists: bool


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"  # does not block an attach


@dataclass(frozen=True)
class Check:
    """One step's verdict. A failure carries the error the attach raises (never shown by the preflight)."""

    step: str
    status: Status
    message: str
    code: str | None = None
    fix: str | None = None
    error: TetherError | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Preflight:
    """The preflight's answer: every check as the workspace identity would meet it."""

    workspace_identity: Caller
    checks: list[Check]

    @property
    def ready(self) -> bool:
        return not any(c.status is Status.FAIL for c in self.checks)


def missing_role(target: AttachTarget, requirement: Requirement) -> TetherError:
    """The error an attach fails with when the workspace identity lacks ``requirement``'s role: who, what, why, fix."""
    who = f"the identity of workspace '{target.workspace_name}' (principal {target.caller.object_id})"
    prefix = {"ExtensionNotInstalled": "Extension not installed: ", "InternalServerError": "Internal server error: "}
    message = (
        f"{prefix.get(requirement.error_code, '')}{who} lacks the role '{requirement.role.name}' on "
        f"'{requirement.scope}', which it needs because {requirement.why}. "
        f"Fix: {requirement.grant_command(target.caller.object_id)}"
    )
    cls = _CODE_CLASS.get(requirement.error_code, TetherError)
    return cls(message, code=requirement.error_code, target=requirement.step)
