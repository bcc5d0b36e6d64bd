"""relay_tunnels (which replica holds each connected cluster's tunnel, decision 0018) and write_claims
(one conditional write at a time per resource)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 23:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tether.store.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relay_tunnels",
        sa.Column("cluster_key", sa.String(length=1024), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("expires_at", tether.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cluster_key"),
    )
    op.create_index(op.f("ix_relay_tunnels_holder"), "relay_tunnels", ["holder"], unique=False)
    op.create_table(
        "write_claims",
        sa.Column("resource_key", sa.String(length=1024), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", tether.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resource_key"),
    )


def downgrade() -> None:
    op.drop_table("write_claims")
    op.drop_index(op.f("ix_relay_tunnels_holder"), table_name="relay_tunnels")
    op.drop_table("relay_tunnels")
