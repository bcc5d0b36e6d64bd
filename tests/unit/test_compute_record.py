"""A compute's stored model: the layout on disk it reads and writes, and the public properties derived from it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tether.domain.models.computes import ComputeRecord
from tether.protocol.computes import DEFAULT_INSTANCE_TYPES, compute_properties

CLUSTER = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.ContainerService/managedClusters/k"
)
IDENTITY = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id1"
)
SMALL = {"nodeSelector": None, "resources": {"requests": {"cpu": "250m", "memory": "1Gi"},
                                             "limits": {"cpu": "1", "memory": "1Gi"}}}  # fmt: skip
PRIVATE_KEYS = ("identityRequest", "requestedInstanceTypes")


def _attached() -> dict[str, Any]:
    """A compute attached with a user-assigned identity and one instance type, as the server stored it
    before the model existed (the provider's PUT, then the reconciler's ``apply``)."""
    return {
        "resourceId": CLUSTER,
        "computeLocation": "westeurope",
        "description": "team a",
        "properties": {
            "namespace": "team-a",
            "instanceTypes": {"defaultinstancetype": SMALL, "small": SMALL},
            "defaultInstanceType": "defaultinstancetype",
            "extensionPrincipalId": "00000000-0000-0000-0000-0000000000e1",
            "extensionInstanceReleaseTrain": "stable",
        },
        "identityRequest": {
            "type": "UserAssigned",
            "ids": [IDENTITY],
            "block": {
                "type": "UserAssigned",
                "userAssignedIdentities": {IDENTITY: {"principalId": "p-1", "clientId": "c-1"}},
            },
        },
        "requestedInstanceTypes": {"small": SMALL},
        "provisioningErrors": None,
    }


def _answer(record: ComputeRecord) -> dict[str, Any]:
    return compute_properties(
        record, location="northeurope", provisioning_state="Succeeded", created_on="t0", modified_on="t1"
    )


def test_an_attached_compute_reads_into_its_parts_and_writes_back_the_same_json() -> None:
    stored = _attached()

    record = ComputeRecord.from_stored(copy.deepcopy(stored))

    assert record.spec.resource_id == CLUSTER
    assert record.spec.namespace == "team-a"
    assert record.state.attached is not None
    assert set(record.state.attached.instance_types or {}) == {"defaultinstancetype", "small"}
    assert record.private.identity_request.type == "UserAssigned"
    assert record.private.requested_instance_types == {"small": SMALL}
    assert record.to_stored() == stored


def test_the_public_properties_never_carry_the_private_part() -> None:
    record = ComputeRecord.from_stored(_attached())

    properties = _answer(record)

    assert not set(PRIVATE_KEYS) & set(properties)
    assert not set(PRIVATE_KEYS) & set(properties["properties"])
    assert IDENTITY not in str(properties)
    assert properties["properties"]["namespace"] == "team-a"
    assert properties["properties"]["instanceTypes"] == {"defaultinstancetype": SMALL, "small": SMALL}
    assert properties["computeLocation"] == "westeurope"


def test_a_compute_not_yet_attached_answers_the_defaults_and_gains_only_a_null_errors_key() -> None:
    # What the PUT wrote before the reconciler ran: no attach facts, no provisioningErrors key.
    stored = {
        "resourceId": CLUSTER,
        "computeLocation": None,
        "description": None,
        "properties": {"namespace": "default"},
        "identityRequest": {"type": "SystemAssigned", "ids": [], "block": None},
        "requestedInstanceTypes": None,
    }

    record = ComputeRecord.from_stored(copy.deepcopy(stored))
    properties = _answer(record)

    assert record.state.attached is None
    assert properties["computeLocation"] == "northeurope"  # the workspace's when none was sent
    assert properties["properties"]["instanceTypes"] == DEFAULT_INSTANCE_TYPES
    assert properties["properties"]["defaultInstanceType"] == "defaultinstancetype"
    assert properties["properties"]["extensionInstanceReleaseTrain"] == "stable"
    assert record.to_stored() == {**stored, "provisioningErrors": None}


def test_a_failed_compute_keeps_its_errors() -> None:
    errors = [{"error": {"code": "ClusterNotFound", "message": "no such cluster", "target": "cluster", "details": []}}]
    stored = {**_attached(), "provisioningErrors": errors}

    record = ComputeRecord.from_stored(copy.deepcopy(stored))

    assert _answer(record)["provisioningErrors"] == errors
    assert record.to_stored() == stored


def test_a_row_from_before_block_and_requested_instance_types_reads_with_none() -> None:
    stored = {
        "resourceId": CLUSTER,
        "computeLocation": None,
        "description": None,
        "properties": {"namespace": "default"},
        "identityRequest": {"type": "None", "ids": []},
    }

    record = ComputeRecord.from_stored(stored)

    assert record.private.identity_request.block is None
    assert record.private.requested_instance_types is None
    assert record.state.provisioning_errors is None


def test_a_row_with_a_key_tether_never_wrote_is_refused_by_name() -> None:
    stored = {**_attached(), "computeType": "Kubernetes"}

    with pytest.raises(ValidationError, match="computeType"):
        ComputeRecord.from_stored(stored)


def test_a_change_builds_a_new_record() -> None:
    record = ComputeRecord.from_stored(_attached())

    changed = record.model_copy(update={"spec": record.spec.model_copy(update={"description": "new"})})

    assert changed.to_stored()["description"] == "new"
    assert record.to_stored()["description"] == "team a"
    with pytest.raises(ValidationError):
        record.spec.description = "in place"  # type: ignore[misc]
