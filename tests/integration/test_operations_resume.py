"""Long-running operations survive a server restart: what was in flight when it stopped finishes after."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from tests.integration.helpers import API, ws_path
from tether.domain.ids import parse_resource_id
from tether.domain.models.workspaces import WorkspaceRecord
from tether.domain.states import OperationKind, ProvisioningState
from tether.identity.bootstrap import ensure_bootstrap
from tether.store import Store, operations, resources
from tether.testing.server import PUBLIC_URL, in_process_server, settings_for_tests


async def _leave_a_workspace_creating(data_dir: Path, *, leased_by_dead_owner: bool) -> str:
    """Write what a provider writes before a crash: the workspace Creating and its operation InProgress."""
    data_dir.mkdir(parents=True)
    store = await Store.open(settings_for_tests(data_dir).database_url())
    try:
        boot = await ensure_bootstrap(
            store, path=data_dir / "bootstrap.json", server=PUBLIC_URL, ca_file=data_dir / "ca.pem"
        )
        workspace = parse_resource_id(ws_path(f"/subscriptions/{boot.subscription_id}", "rg1", "ws1"))
        async with store.transaction() as session:
            for rid in (workspace.parent, workspace):
                assert rid is not None
                state = ProvisioningState.SUCCEEDED if rid is workspace.parent else ProvisioningState.CREATING
                await resources.insert(
                    session,
                    rid,
                    location="westeurope",
                    tags={},
                    identity={"type": "SystemAssigned"},
                    properties=WorkspaceRecord(workspace_id="w-resumed") if rid is workspace else {},
                    state=state,
                    principal_id=boot.admin_object_id,
                )
            row = await resources.get(session, workspace)
            assert row is not None
            operation = await operations.create(session, row, OperationKind.CREATE)
            if leased_by_dead_owner:
                await operations.take(session, operation.id, owner="a-server-that-died", lease=dt.timedelta(seconds=1))
        return str(workspace)
    finally:
        await store.close()


async def _state_after_restart(data_dir: Path, workspace: str) -> str:
    async with in_process_server(data_dir) as server, server.client() as client:
        for _ in range(100):
            body = (await client.get(workspace, params=API)).json()
            if body["properties"]["provisioningState"] != "Creating":
                break
            await asyncio.sleep(0.05)
        state: str = body["properties"]["provisioningState"]
        return state


async def test_an_operation_in_flight_at_shutdown_finishes_after_restart(tmp_path: Path) -> None:
    workspace = await _leave_a_workspace_creating(tmp_path / "d", leased_by_dead_owner=False)

    assert await _state_after_restart(tmp_path / "d", workspace) == "Succeeded"


async def test_a_lease_held_by_a_dead_server_is_taken_over_when_it_expires(tmp_path: Path) -> None:
    workspace = await _leave_a_workspace_creating(tmp_path / "d", leased_by_dead_owner=True)

    assert await _state_after_restart(tmp_path / "d", workspace) == "Succeeded"
