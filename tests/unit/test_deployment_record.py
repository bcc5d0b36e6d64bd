"""A deployment's stored model: the layout on disk it reads and writes; its private part never answered."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tether.domain.models.deployments import DeploymentRecord
from tether.protocol.deployments import deployment_properties

GROUP = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers"
ACCOUNT = f"{GROUP}/Microsoft.Storage/storageAccounts/stws1a2b3c4d"
WORKSPACE = f"{GROUP}/Microsoft.MachineLearningServices/workspaces/ws"


def _stored(operation_id: str | None = "op-123") -> dict[str, Any]:
    """A deployment's ``properties`` as the server stored them before the model existed."""
    return {
        "operationId": operation_id,
        "correlationId": "7d3c2f8a-1111-4e2b-9c55-0a1b2c3d4e5f",
        "parameters": {"workspaceName": {"value": "ws"}, "tagValues": {"value": {"team": "ml"}}},
        "deployed": [ACCOUNT, WORKSPACE],
    }


@pytest.mark.parametrize("operation_id", ["op-123", None])
def test_the_stored_layout_reads_into_typed_parts_and_writes_back_unchanged(operation_id: str | None) -> None:
    record = DeploymentRecord.from_stored(_stored(operation_id))

    assert record.private.operation_id == operation_id
    assert record.correlation_id == "7d3c2f8a-1111-4e2b-9c55-0a1b2c3d4e5f"
    assert record.deployed == [ACCOUNT, WORKSPACE]
    assert record.to_stored() == _stored(operation_id)


def test_a_stored_deployment_without_its_correlation_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="correlationId"):
        DeploymentRecord.from_stored({"operationId": "op", "parameters": {}, "deployed": []})


def test_the_public_properties_never_hold_the_operation_and_list_resources_once_succeeded() -> None:
    record = DeploymentRecord.from_stored(_stored())

    running = deployment_properties(record, state="Running", timestamp="t", duration="PT1.000S", error=None)
    done = deployment_properties(record, state="Succeeded", timestamp="t", duration="PT2.000S", error=None)

    assert "op-123" not in repr(running)
    assert "op-123" not in repr(done)
    assert "operationId" not in running
    assert "error" not in running
    assert running["outputResources"] == []
    assert done["outputResources"] == [{"id": ACCOUNT}, {"id": WORKSPACE}]
    assert done["correlationId"] == record.correlation_id
    assert done["parameters"] == _stored()["parameters"]


def test_a_failed_deployment_answers_its_error() -> None:
    error = {"code": "InvalidRequest", "message": "no"}

    properties = deployment_properties(
        DeploymentRecord.from_stored(_stored()), state="Failed", timestamp="t", duration="PT0.000S", error=error
    )

    assert properties["error"] == error
    assert properties["outputResources"] == []
