"""Store queries whose SQL differs by dialect: run on SQLite, and on PostgreSQL by ``make test-postgres``."""

from __future__ import annotations

from tether.domain import resource_types as rt
from tether.domain.ids import parse_resource_id
from tether.domain.jobs import JobStatus
from tether.domain.models.jobs import JobRecord, JobSpec, JobState
from tether.domain.states import ProvisioningState
from tether.store import Store, resources

WORKSPACE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws"
)


async def _job(store: Store, name: str, status: JobStatus) -> None:
    spec = JobSpec(command="true", computeId=f"{WORKSPACE}/computes/c1")
    record = JobRecord(spec=spec, state=JobState(status=status))
    async with store.transaction() as session:
        await resources.insert(
            session,
            parse_resource_id(f"{WORKSPACE}/jobs/{name}"),
            location=None,
            tags={},
            identity=None,
            properties=record,
            state=ProvisioningState.SUCCEEDED,
            principal_id="00000000-0000-0000-0000-0000000000aa",
        )


async def test_resources_are_selected_by_a_property_in_the_database(store: Store) -> None:
    for name, status in (("done", "Completed"), ("running", "Running"), ("failed", "Failed"), ("queued", "Queued")):
        await _job(store, name, JobStatus(status))

    async with store.transaction() as session:
        rows = await resources.list_of_type_where(
            session, rt.JOBS, property_name="status", values=["Queued", "Running", "Starting"]
        )

    assert [row.name for row in rows] == ["queued", "running"]


async def test_a_row_the_transaction_holds_is_read_back_as_written(store: Store) -> None:
    await _job(store, "seen", JobStatus.QUEUED)
    key = parse_resource_id(f"{WORKSPACE}/jobs/seen").key
    async with store.transaction() as session:
        row = await resources.get_by_key(session, key)
        assert row is not None
        record = resources.read_properties(row, JobRecord)
        running = record.model_copy(update={"state": record.state.model_copy(update={"status": JobStatus.RUNNING})})
        resources.write_properties(row, running)
        again = await resources.get_by_key(session, key)

        assert again is row
        assert await resources.get_by_key(session, key + "-missing") is None

    async with store.transaction() as session:
        stored = await resources.get_by_key(session, key)
        assert stored is not None
        assert resources.read_properties(stored, JobRecord) == running
