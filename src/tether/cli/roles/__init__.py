"""``tether role definition|assignment ...``: role-based access control, as ``az role``.

Results are flattened as az prints them (``roleDefinitionName``, ``principalId``, ``scope`` at the top
level, not under ``properties``). ``tether role assignment check`` is Tether's own: it says whether a
principal may perform an action on a scope, which assignment grants it, and how to grant it if not.
"""

from __future__ import annotations

import click

from tether.cli.roles.assignments import assignment
from tether.cli.roles.definitions import definition


@click.group("role")
def role() -> None:
    """Manage role definitions and role assignments (who may do what, where), as az role."""


role.add_command(definition)
role.add_command(assignment)
