"""Schema migrations that change stored data: a SQLite store at the previous revision, upgraded by ``Store.open``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import Connection, text

from tether.store import Store
from tether.store.engine import upgrade_schema

EXTENSION = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Kubernetes"
    "/connectedClusters/c1/providers/Microsoft.KubernetesConfiguration/extensions/ml"
)


def _at_0006_with_a_clear_protected_value(connection: Connection) -> None:
    upgrade_schema(connection, "0006")
    now = dt.datetime.now(dt.UTC)
    connection.execute(
        text(
            "INSERT INTO resources (key, id, type, type_key, name, subscription_id, parent_key, location, tags, "
            "identity, properties, provisioning_state, created_at, created_by, modified_at, modified_by, version) "
            "VALUES (:key, :id, :type, :type_key, 'ml', :sub, :parent, NULL, '{}', NULL, :properties, 'Succeeded', "
            ":now, 'x', :now, 'x', 1)"
        ),
        {
            "key": EXTENSION.lower(),
            "id": EXTENSION,
            "type": "Microsoft.KubernetesConfiguration/extensions",
            "type_key": "microsoft.kubernetesconfiguration/extensions",
            "sub": "00000000-0000-0000-0000-000000000001",
            "parent": EXTENSION.lower().rsplit("/providers/", 1)[0],
            "properties": json.dumps({"extensionType": "x", "configurationProtectedSettings": {"pw": "s3"}}),
            "now": now.isoformat(),
        },
    )


async def test_protected_setting_values_stored_by_earlier_servers_are_blanked(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tether.db'}"
    old = await Store.open(url, migrate=False)
    async with old.engine.begin() as connection:
        await connection.run_sync(_at_0006_with_a_clear_protected_value)
    await old.close()

    store = await Store.open(url)  # upgrades to the newest revision
    try:
        async with store.engine.connect() as connection:
            raw = (await connection.execute(text("SELECT properties FROM resources"))).scalar_one()
    finally:
        await store.close()
    assert json.loads(raw)["configurationProtectedSettings"] == {"pw": ""}
