"""trusted issuers per tenant

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 19:01:30.163751
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tether.store.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Trust becomes per tenant: the old global rows cannot be attributed to a tenant, so they are dropped
    # (a cluster's trust is recorded again when it is next registered or probed).
    op.drop_table("trusted_issuers")
    op.create_table(
        "trusted_issuers",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("issuer", sa.String(length=1024), nullable=False),
        sa.Column("ca_pem", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=1200), nullable=False),
        sa.Column("created_at", tether.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "issuer"),
    )


def downgrade() -> None:
    op.drop_table("trusted_issuers")
    op.create_table(
        "trusted_issuers",
        sa.Column("issuer", sa.String(length=1024), nullable=False),
        sa.Column("ca_pem", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=1200), nullable=False),
        sa.Column("created_at", tether.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("issuer"),
    )
