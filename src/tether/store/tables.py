"""The schema: ORM rows (``*Row``). Only ``tether.store`` imports SQLAlchemy.

ARM resources share one table (``resources``): every type has the same envelope, parent chain,
provisioning state and lease columns, and each provider owns the meaning of its ``properties``.
Things that are not ARM-envelope shaped or need indexed queries (principals, secrets, signing keys,
operations) have tables of their own. See docs/decisions/0002-one-resources-table.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite stores them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime]


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    display_name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime]


class PrincipalRow(Base):
    """A security principal: service principal, or a managed identity (user- or system-assigned)."""

    __tablename__ = "principals"

    object_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    app_id: Mapped[str] = mapped_column(String(36), unique=True)
    display_name: Mapped[str] = mapped_column(String(512), index=True)
    display_name_key: Mapped[str] = mapped_column(String(512), index=True)
    # For managed identities: the ARM id (lower-case key) of the identity resource or owning resource.
    resource_key: Mapped[str | None] = mapped_column(String(1024), index=True)
    created_at: Mapped[dt.datetime]


class ClientSecretRow(Base):
    __tablename__ = "client_secrets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.object_id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(256))
    hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class SigningKeyRow(Base):
    """An RS256 key of the token service. Retired keys stay published until their tokens expire."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    retired_at: Mapped[dt.datetime | None]


class ResourceRow(Base):
    """One ARM resource of any type: envelope, parent, state, and the provider-owned properties."""

    __tablename__ = "resources"

    key: Mapped[str] = mapped_column(String(1024), primary_key=True)  # lower-case id
    id: Mapped[str] = mapped_column(String(1024))  # canonical id as displayed
    type: Mapped[str] = mapped_column(String(256))  # canonical full type
    type_key: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(260))
    subscription_id: Mapped[str] = mapped_column(String(36))
    parent_key: Mapped[str] = mapped_column(String(1024))
    location: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    identity: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provisioning_state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(36))
    modified_at: Mapped[dt.datetime]
    modified_by: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_resources_parent_type", "parent_key", "type_key"),)


class OperationRow(Base):
    """A long-running operation, carried to completion by a reconciler holding its lease."""

    __tablename__ = "operations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(36))
    resource_key: Mapped[str] = mapped_column(String(1024), index=True)
    resource_type: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    lock_owner: Mapped[str | None] = mapped_column(String(64))
    lock_token: Mapped[str | None] = mapped_column(String(36))
    lock_expires_at: Mapped[dt.datetime | None]


class RoleAssignmentRow(Base):
    """A role granted to a principal at a scope (and everything under it)."""

    __tablename__ = "role_assignments"

    id: Mapped[str] = mapped_column(String(1200), primary_key=True)  # lower-case ARM id of the assignment
    name: Mapped[str] = mapped_column(String(36))  # the assignment's GUID
    display_id: Mapped[str] = mapped_column(String(1200))
    subscription_id: Mapped[str] = mapped_column(String(36))
    scope_key: Mapped[str] = mapped_column(String(1024), index=True)
    scope: Mapped[str] = mapped_column(String(1024))
    principal_id: Mapped[str] = mapped_column(String(36), index=True)
    principal_type: Mapped[str] = mapped_column(String(32))
    role_definition_guid: Mapped[str] = mapped_column(String(36))
    description: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(36))

    __table_args__ = (
        UniqueConstraint("scope_key", "principal_id", "role_definition_guid", name="uq_role_assignment_grant"),
    )


class FederatedCredentialRow(Base):
    """Trust in an external issuer's tokens for one subject: exchanged for the principal's own tokens."""

    __tablename__ = "federated_credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.object_id", ondelete="CASCADE"), index=True)
    # For credentials that are ARM resources (user-assigned identities): the lower-case id; else None.
    resource_key: Mapped[str | None] = mapped_column(String(1200), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    issuer: Mapped[str] = mapped_column(String(1024))
    subject: Mapped[str] = mapped_column(String(1024))
    audiences: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("principal_id", "name", name="uq_federated_credential_name"),)


class TrustedIssuerRow(Base):
    """A CA bundle to reach an OIDC issuer over TLS (a cluster's service-account issuer, say), per tenant."""

    __tablename__ = "trusted_issuers"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(1024), primary_key=True)
    ca_pem: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(1200))
    created_at: Mapped[dt.datetime]


class ClusterSecretRow(Base):
    """A cluster's secret: its kubeconfig (sealed, managed clusters) or its agent credential (hashed, connected)."""

    __tablename__ = "cluster_secrets"

    resource_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class UserRow(Base):
    """A person's sign-in: the user principal name and a salted scrypt hash of the password (never the password)."""

    __tablename__ = "users"

    object_id: Mapped[str] = mapped_column(ForeignKey("principals.object_id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_principal_name: Mapped[str] = mapped_column(String(256))
    user_principal_name_key: Mapped[str] = mapped_column(String(256), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime]


class RelayTunnelRow(Base):
    """Which replica holds a connected cluster's tunnel, and where the other replicas forward its calls.

    ``expires_at`` is pushed forward by the holder while the tunnel lives; a lapsed row belongs to a replica
    that died without saying so (decision 0018)."""

    __tablename__ = "relay_tunnels"

    cluster_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), index=True)
    url: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[dt.datetime]


class WriteClaimRow(Base):
    """A conditional write (``If-Match`` / ``If-None-Match``) in progress on a resource: one at a time, so the
    precondition checked is the one the write replaces (``store.write_claims``)."""

    __tablename__ = "write_claims"

    resource_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime]
