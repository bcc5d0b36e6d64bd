"""Extensions keep their protected settings' names only: blank the values earlier servers stored in clear

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_RESOURCES = sa.table(
    "resources",
    sa.column("key", sa.String),
    sa.column("type_key", sa.String),
    sa.column("properties", sa.JSON),
)
_PROTECTED = "configurationProtectedSettings"


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_RESOURCES.c.key, _RESOURCES.c.properties).where(
            _RESOURCES.c.type_key == "microsoft.kubernetesconfiguration/extensions"
        )
    ).all()
    for key, properties in rows:
        protected = (properties or {}).get(_PROTECTED)
        if not isinstance(protected, dict) or not any(protected.values()):
            continue
        blanked = {**properties, _PROTECTED: dict.fromkeys(protected, "")}
        connection.execute(sa.update(_RESOURCES).where(_RESOURCES.c.key == key).values(properties=blanked))


def downgrade() -> None:
    """The values are gone; nothing to restore."""
