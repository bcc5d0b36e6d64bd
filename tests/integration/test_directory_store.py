"""The store hands out models for directory and RBAC tables, and changes them only through its functions
(docs/decisions/0024). Runs on SQLite, and on PostgreSQL by ``make test-postgres``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from tether.domain.principals import Principal, PrincipalKind
from tether.store import Store, federated_credentials, principals, role_assignments, tenancy, users

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000a1"


async def _tenant(store: Store) -> str:
    tenant_id = str(uuid.uuid4())
    async with store.transaction() as session:
        await tenancy.create_tenant(session, tenant_id=tenant_id, display_name="t")
        await tenancy.create_subscription(session, subscription_id=SUBSCRIPTION, tenant_id=tenant_id, display_name="s")
    return tenant_id


async def _principal(store: Store, tenant_id: str, name: str = "Build Bot") -> Principal:
    async with store.transaction() as session:
        return await principals.create(
            session, tenant_id=tenant_id, kind=PrincipalKind.SERVICE_PRINCIPAL, display_name=name
        )


async def test_a_rename_is_stored_and_found_by_the_new_name_while_the_old_model_stays_as_it_was(store: Store) -> None:
    tenant_id = await _tenant(store)
    before = await _principal(store, tenant_id)

    async with store.transaction() as session:
        renamed = await principals.rename(session, before.object_id, display_name="Deploy Bot")
        missing = await principals.rename(session, str(uuid.uuid4()), display_name="x")
    async with store.transaction() as session:
        found = await principals.find(session, tenant_id, "deploy bot")
        by_old_name = await principals.find(session, tenant_id, "build bot")

    assert renamed is not None
    assert missing is None
    assert (renamed.display_name, renamed.display_name_key) == ("Deploy Bot", "deploy bot")
    assert [p.object_id for p in found] == [before.object_id]
    assert by_old_name == []
    assert before.display_name == "Build Bot"
    assert before.kind is PrincipalKind.SERVICE_PRINCIPAL
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.display_name = "changed outside the store"  # type: ignore[misc]


async def test_deleting_a_principal_takes_its_secrets_and_says_whether_it_existed(store: Store) -> None:
    principal = await _principal(store, await _tenant(store))
    async with store.transaction() as session:
        secret, text = await principals.add_password_credential(
            session, principal.object_id, lifetime=dt.timedelta(days=1)
        )
        listed = await principals.list_secrets(session, principal.object_id)

    assert [s.key_id for s in listed] == [secret.key_id]
    assert secret.hint == text[:3]
    assert not hasattr(secret, "secret_hash")

    async with store.transaction() as session:
        assert await principals.delete(session, principal.object_id) is True
    async with store.transaction() as session:
        assert await principals.get(session, principal.object_id) is None
        assert await principals.delete(session, principal.object_id) is False
        assert await principals.list_secrets(session, principal.object_id) == []


async def test_a_user_model_carries_no_password_hash_which_only_the_sign_in_read_returns(store: Store) -> None:
    tenant_id = await _tenant(store)
    async with store.transaction() as session:
        created = await users.create(
            session,
            tenant_id=tenant_id,
            display_name="Ada",
            user_principal_name="Ada@example.test",
            password_hash="scrypt$stand-in",
        )
    async with store.transaction() as session:
        by_id = await users.get(session, created.principal.object_id)
        for_sign_in = await users.get_for_sign_in(session, "ada@EXAMPLE.test")
        listed = await users.list_in_tenant(session, tenant_id)

    assert by_id == created
    assert created.principal.kind is PrincipalKind.USER
    assert not hasattr(created, "password_hash")
    assert for_sign_in == (created, "scrypt$stand-in")
    assert [u.user_principal_name for u in listed] == ["Ada@example.test"]


async def test_deleting_a_role_assignment_returns_what_was_deleted_once(store: Store) -> None:
    principal = await _principal(store, await _tenant(store))
    scope = f"/subscriptions/{SUBSCRIPTION}"
    name = str(uuid.uuid4())
    assignment_id = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    async with store.transaction() as session:
        created = await role_assignments.create(
            session,
            assignment_id=assignment_id,
            name=name,
            subscription_id=SUBSCRIPTION,
            scope=scope,
            principal_id=principal.object_id,
            principal_type="ServicePrincipal",
            role_definition_guid="ACDD72A7-3385-48EF-BD42-F606FBA81AE7",
            description=None,
            created_by=principal.object_id,
        )

    async with store.transaction() as session:
        listed = await role_assignments.for_principal(session, principal.object_id)
        at_scope = await role_assignments.at_or_above(session, [scope.lower()])
        under = await role_assignments.within(session, scope.lower())
        deleted = await role_assignments.delete(session, assignment_id.upper())
        again = await role_assignments.delete(session, assignment_id)
        left = await role_assignments.for_principal(session, principal.object_id)

    assert listed == at_scope == under == [created]  # read as columns; created_at in UTC as when written
    assert deleted == created
    assert created.role_definition_guid == "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    assert again is None
    assert left == []


async def test_a_federated_credential_is_replaced_in_place_and_deleted_by_name(store: Store) -> None:
    principal = await _principal(store, await _tenant(store))
    issuer = "https://127.0.0.1:8443/issuer"

    async def upsert(subject: str) -> tuple[object, bool]:
        async with store.transaction() as session:
            return await federated_credentials.upsert(
                session,
                principal_id=principal.object_id,
                name="jobs",
                issuer=issuer,
                subject=subject,
                audiences=["api://AzureADTokenExchange"],
            )

    first, created = await upsert("system:serviceaccount:ns:a")
    same, created_again = await upsert("system:serviceaccount:ns:a")
    changed, created_third = await upsert("system:serviceaccount:ns:b")
    async with store.transaction() as session:
        stored = await federated_credentials.get(session, principal.object_id, "jobs")
        deleted = await federated_credentials.delete(session, principal.object_id, "jobs")
        deleted_again = await federated_credentials.delete(session, principal.object_id, "jobs")

    assert (created, created_again, created_third) == (True, False, False)
    assert same == first
    assert stored == changed
    assert stored is not None
    assert (stored.subject, stored.audiences) == ("system:serviceaccount:ns:b", ("api://AzureADTokenExchange",))
    assert (deleted, deleted_again) == (True, False)
