"""Store queries whose SQL differs by dialect: run on SQLite, and on PostgreSQL by ``make test-postgres``."""

from __future__ import annotations

import pytest

from tether.domain import resource_types as rt
from tether.domain.ids import parse_resource_id
from tether.domain.jobs import JobStatus
from tether.domain.models.jobs import JobRecord, JobSpec, JobState
from tether.domain.states import ProvisioningState
from tether.errors import Conflict
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


async def test_resources_are_found_by_a_property_case_insensitively(store: Store) -> None:
    registry = (
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
        "/providers/Microsoft.ContainerRegistry/registries"
    )
    async with store.transaction() as session:
        for name, server in (("one", "One.Registry.Local"), ("two", "two.registry.local")):
            await resources.insert(
                session,
                parse_resource_id(f"{registry}/{name}"),
                location="local",
                tags={},
                identity=None,
                properties={"loginServer": server},
                state=ProvisioningState.SUCCEEDED,
                principal_id="00000000-0000-0000-0000-0000000000aa",
            )

    async with store.transaction() as session:
        found = await resources.find_by_property(session, rt.REGISTRIES, name="loginServer", value="one.registry.LOCAL")
        missing = await resources.find_by_property(session, rt.REGISTRIES, name="loginServer", value="three")

    assert [(r.name, r.properties["loginServer"]) for r in found] == [("one", "One.Registry.Local")]
    assert missing == []


async def test_an_update_answers_the_snapshot_later_reads_see(store: Store) -> None:
    await _job(store, "seen", JobStatus.QUEUED)
    key = parse_resource_id(f"{WORKSPACE}/jobs/seen").key
    async with store.transaction() as session:
        before = await resources.get_by_key(session, key, for_update=True)
        assert before is not None
        record = resources.read_properties(before, JobRecord)
        running = record.model_copy(update={"state": record.state.model_copy(update={"status": JobStatus.RUNNING})})
        after = await resources.update(session, before, properties=running)
        again = await resources.get_by_key(session, key)

        assert again == after
        assert resources.read_properties(before, JobRecord).state.status is JobStatus.QUEUED  # a snapshot
        assert (after.version, after.modified_at) == (before.version, before.modified_at)  # an observation
        assert await resources.get_by_key(session, key + "-missing") is None

    async with store.transaction() as session:
        stored = await resources.get_by_key(session, key)
        assert stored is not None
        assert resources.read_properties(stored, JobRecord) == running


async def test_a_modification_records_who_and_bumps_the_version(store: Store) -> None:
    await _job(store, "tagged", JobStatus.QUEUED)
    key = parse_resource_id(f"{WORKSPACE}/jobs/tagged").key
    editor = "00000000-0000-0000-0000-0000000000bb"
    async with store.transaction() as session:
        before = await resources.get_by_key(session, key)
        assert before is not None
        after = await resources.update(session, before, tags={"team": "a"}, principal_id=editor)

    async with store.transaction() as session:
        stored = await resources.get_by_key(session, key)
    assert stored == after
    assert (stored.tags, stored.modified_by, stored.version) == ({"team": "a"}, editor, before.version + 1)
    assert stored.modified_at > before.modified_at
    assert (stored.created_by, stored.created_at) == (before.created_by, before.created_at)
    assert resources.read_properties(stored, JobRecord) == resources.read_properties(before, JobRecord)


async def test_a_state_change_is_checked_and_a_refused_one_writes_nothing(store: Store) -> None:
    await _job(store, "busy", JobStatus.QUEUED)
    key = parse_resource_id(f"{WORKSPACE}/jobs/busy").key
    async with store.transaction() as session:
        job = await resources.get_by_key(session, key)
        assert job is not None
        deleting = await resources.update(session, job, state=ProvisioningState.DELETING)
    assert deleting.provisioning_state == ProvisioningState.DELETING.value

    with pytest.raises(Conflict) as refused:
        async with store.transaction() as session:
            await resources.update(session, deleting, state=ProvisioningState.UPDATING, tags={"x": "y"})
    assert refused.value.code == "ConflictingOperation"
    async with store.transaction() as session:
        assert await resources.get_by_key(session, key) == deleting


async def test_a_change_of_a_resource_deleted_since_it_was_read_is_a_conflict(store: Store) -> None:
    await _job(store, "gone", JobStatus.QUEUED)
    key = parse_resource_id(f"{WORKSPACE}/jobs/gone").key
    async with store.transaction() as session:
        read = await resources.get_by_key(session, key)
    assert read is not None
    async with store.transaction() as session:
        assert await resources.delete_tree_by_key(session, key) == 1

    with pytest.raises(Conflict) as refused:
        async with store.transaction() as session:
            await resources.update(session, read, tags={"x": "y"}, principal_id="00000000-0000-0000-0000-0000000000bb")
    assert refused.value.code == "ResourceDeleted"
    async with store.transaction() as session:
        assert await resources.get_by_key(session, key) is None
