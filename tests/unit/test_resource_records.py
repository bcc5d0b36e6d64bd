"""Stored models of resource groups, user-assigned identities, storage accounts, registries and relay resources:
each reads the layout the providers wrote before the models existed, writes it back key for key, and
answers the public properties the providers answered."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tether.domain import resource_types as rt
from tether.domain.models.identities import UserAssignedIdentityRecord
from tether.domain.models.registries import RegistryRecord
from tether.domain.models.relays import (
    HybridConnectionRecord,
    RelayAuthorizationRuleRecord,
    RelayNamespaceRecord,
    relay_record_type,
)
from tether.domain.models.resource_groups import ResourceGroupRecord
from tether.domain.models.storage import PrimaryEndpoints, StorageAccountRecord
from tether.domain.models.stored import StoredModel
from tether.protocol.identities import identity_properties
from tether.protocol.registries import registry_properties
from tether.protocol.relays import relay_properties
from tether.protocol.resource_groups import resource_group_properties
from tether.protocol.storage import blob_container_properties, storage_account_properties


def _round_trip(model: type[StoredModel], stored: dict[str, Any]) -> StoredModel:
    """Read ``stored``; assert the record writes it back identical, keys in the same order."""
    record = model.from_stored(stored)
    assert record.to_stored() == stored
    assert list(record.to_stored()) == list(stored)
    return record


def test_a_resource_group_stores_nothing_and_answers_only_its_state() -> None:
    record = _round_trip(ResourceGroupRecord, {})
    assert isinstance(record, ResourceGroupRecord)

    assert resource_group_properties(record, provisioning_state="Deleting") == {"provisioningState": "Deleting"}


def test_a_resource_group_keeps_keys_a_later_version_wrote_but_does_not_answer_them() -> None:
    record = _round_trip(ResourceGroupRecord, {"managedBy": "someone"})
    assert isinstance(record, ResourceGroupRecord)

    assert resource_group_properties(record, provisioning_state="Succeeded") == {"provisioningState": "Succeeded"}


def test_an_identity_round_trips_and_answers_its_ids() -> None:
    stored = {"tenantId": "t-1", "principalId": "p-1", "clientId": "c-1"}
    record = _round_trip(UserAssignedIdentityRecord, stored)
    assert isinstance(record, UserAssignedIdentityRecord)

    assert record.principal_id == "p-1"
    assert record.client_id == "c-1"
    assert identity_properties(record) == stored
    assert UserAssignedIdentityRecord(tenant_id="t-1", principal_id="p-1", client_id="c-1").to_stored() == stored


def test_an_identity_without_its_principal_is_refused() -> None:
    with pytest.raises(ValidationError, match="principalId"):
        UserAssignedIdentityRecord.from_stored({"tenantId": "t-1", "clientId": "c-1"})


def test_a_storage_account_built_at_creation_stores_what_the_provider_always_stored() -> None:
    stored = {
        "primaryEndpoints": {"blob": "http://127.0.0.1:10000/stacct/"},
        "primaryLocation": "westeurope",
        "statusOfPrimary": "available",
        "supportsHttpsTrafficOnly": True,
        "allowSharedKeyAccess": True,
        "accessTier": "Hot",
    }
    built = StorageAccountRecord(
        primary_endpoints=PrimaryEndpoints(blob="http://127.0.0.1:10000/stacct/"), primary_location="westeurope"
    )
    record = _round_trip(StorageAccountRecord, stored)

    assert built == record
    assert built.to_stored() == stored
    assert storage_account_properties(record, provisioning_state="Succeeded") == {
        **stored,
        "provisioningState": "Succeeded",
    }


def test_a_blob_containers_properties_come_from_the_engines_answer() -> None:
    found = {"name": "data", "etag": '"0x1"', "lastModified": "2026-12-04T12:00:00Z", "metadata": {"a": "b"}}

    properties = blob_container_properties(found)

    assert properties["lastModifiedTime"] == "2026-12-04T12:00:00Z"
    assert properties["metadata"] == {"a": "b"}
    assert properties["publicAccess"] == "None"
    assert blob_container_properties({"name": "data"})["metadata"] == {}


def test_a_registry_round_trips_and_knows_its_port() -> None:
    stored = {
        "loginServer": "127.0.0.1:41234",
        "adminUserEnabled": False,
        "publicNetworkAccess": "Enabled",
        "anonymousPullEnabled": False,
    }
    record = _round_trip(RegistryRecord, stored)
    assert isinstance(record, RegistryRecord)

    assert record.port == 41234
    assert RegistryRecord(login_server="127.0.0.1:41234").to_stored() == stored
    assert registry_properties(record, creation_date="2026-12-04T12:00:00Z", provisioning_state="Succeeded") == {
        **stored,
        "creationDate": "2026-12-04T12:00:00Z",
        "provisioningState": "Succeeded",
    }


def test_a_registry_whose_login_server_names_no_port_says_so() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        _ = RegistryRecord(login_server="localhost").port


@pytest.mark.parametrize(
    ("full_type", "stored", "built"),
    [
        (
            rt.RELAY_NAMESPACES,
            {"serviceBusEndpoint": "https://ns.servicebus.tether", "status": "Active"},
            RelayNamespaceRecord(service_bus_endpoint="https://ns.servicebus.tether"),
        ),
        (
            rt.HYBRID_CONNECTIONS,
            {"requiresClientAuthorization": True, "listenerCount": 1},
            HybridConnectionRecord(),
        ),
        (
            rt.RELAY_AUTHORIZATION_RULES,
            {"rights": ["Manage", "Send", "Listen"]},
            RelayAuthorizationRuleRecord(rights=["Manage", "Send", "Listen"]),
        ),
    ],
)
def test_relay_resources_round_trip_and_answer_their_state_only_when_given(
    full_type: str, stored: dict[str, Any], built: StoredModel
) -> None:
    model = relay_record_type(full_type.upper())
    record = _round_trip(model, stored)
    assert record == built
    assert isinstance(record, RelayNamespaceRecord | HybridConnectionRecord | RelayAuthorizationRuleRecord)

    assert relay_properties(record, provisioning_state="Succeeded") == {**stored, "provisioningState": "Succeeded"}
    assert relay_properties(record, provisioning_state=None) == stored


def test_a_type_that_is_not_a_relays_has_no_relay_record() -> None:
    with pytest.raises(KeyError):
        relay_record_type(rt.REGISTRIES)
