"""A cluster extension's stored model: the layout on disk it reads and writes, and the public properties."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tether.domain.models.extensions import (
    ClusterExtensionRecord,
    ExtensionHealthReport,
    ExtensionPrivate,
    HealthStatus,
)
from tether.protocol.extensions import extension_properties


def _created() -> dict[str, Any]:
    """An extension's ``properties`` as ``providers/extensions.put`` stored them before the model existed."""
    return {
        "extensionType": "Microsoft.AzureML.Kubernetes",
        "autoUpgradeMinorVersion": True,
        "releaseTrain": "stable",
        "version": None,
        "scope": {"cluster": {"releaseNamespace": "azureml"}},
        "configurationSettings": {"enableTraining": "true", "tether.operatorMode": "process"},
        "configurationProtectedSettings": {"sslPassword": "s3cret"},
    }


def _installed() -> dict[str, Any]:
    """... after the install (``reconcile/extensions``) and a health check (``reconcile/health``)."""
    stored = _created()
    stored["configurationSettings"] = {
        **stored["configurationSettings"],
        "relayserver.hybridConnectionResourceID": "/subscriptions/s/.../hybridConnections/c",
        "relayserver.hybridConnectionName": "c",
    }
    return {
        **stored,
        "installedVersion": "1.1.0",
        "operatorMode": "local-process",
        "health": {
            "status": "Healthy",
            "reason": None,
            "heartbeatAgeSeconds": None,
            "operator": "tether-operator-0",
            "trainingEnabled": True,
            "checks": [{"name": "crds", "ok": True, "message": "installed"}],
            "checkedAt": "2026-12-04T09:00:00.5Z",
        },
        "instanceTypes": {
            "defaultinstancetype": {
                "nodeSelector": None,
                "resources": {"requests": {"cpu": "100m", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
            }
        },
    }


def _waiting() -> dict[str, Any]:
    """... right after the install, before the first heartbeat was read."""
    return {
        **_created(),
        "installedVersion": "1.1.0",
        "operatorMode": "deployment",
        "health": {"status": "Unknown", "reason": "waiting for the operator's first heartbeat"},
    }


def _unreachable() -> dict[str, Any]:
    """... when the health monitor could not reach the cluster, then a forced delete was asked."""
    return {
        **_installed(),
        "health": {"status": "Unknown", "reason": "cannot reach the cluster: x", "checkedAt": "2026-12-04T09:01:00Z"},
        "_forceDelete": True,
    }


@pytest.mark.parametrize(
    "stored",
    [_created(), _waiting(), _installed(), _unreachable()],
    ids=["created", "waiting", "installed", "unreachable-forced"],
)
def test_the_stored_layout_reads_and_writes_back_unchanged(stored: dict[str, Any]) -> None:
    record = ClusterExtensionRecord.from_stored(copy.deepcopy(stored))
    assert record.to_stored() == stored
    assert list(record.to_stored()) == list(stored)  # key order too: answers keep their order


def test_the_parts_are_typed() -> None:
    record = ClusterExtensionRecord.from_stored(_unreachable())
    assert record.spec.release_train == "stable"
    assert record.spec.scope.cluster.release_namespace == "azureml"
    assert record.state.health is not None
    assert record.state.health.status is HealthStatus.UNKNOWN
    assert record.state.installed_version == "1.1.0"
    assert record.private.force_delete


def test_the_answer_hides_protected_values_and_the_private_part() -> None:
    record = ClusterExtensionRecord.from_stored(_unreachable())
    properties = extension_properties(record, provisioning_state="Deleting")
    assert "_forceDelete" not in properties
    assert not [k for k in properties if k.startswith("_")]
    assert properties["configurationProtectedSettings"] == {"sslPassword": ""}
    assert "s3cret" not in repr(properties)
    expected = {k: v for k, v in _unreachable().items() if k != "_forceDelete"}
    expected["configurationProtectedSettings"] = {"sslPassword": ""}
    assert properties == {**expected, "provisioningState": "Deleting"}


def test_a_new_extension_stores_its_spec_only() -> None:
    record = ClusterExtensionRecord.from_stored(_created())
    assert ClusterExtensionRecord(spec=record.spec).to_stored() == _created()


def test_changes_write_the_keys_they_set_and_keep_the_rest() -> None:
    record = ClusterExtensionRecord.from_stored(_installed())
    unreachable = ExtensionHealthReport(status=HealthStatus.UNKNOWN, reason="down", checked_at="2026-12-04T10:00:00Z")
    checked = record.model_copy(update={"state": record.state.model_copy(update={"health": unreachable})})
    stored = checked.to_stored()
    assert stored["health"] == {"status": "Unknown", "reason": "down", "checkedAt": "2026-12-04T10:00:00Z"}
    assert stored["instanceTypes"] == _installed()["instanceTypes"]
    forced = checked.model_copy(update={"private": ExtensionPrivate(force_delete=True)})
    assert forced.to_stored()["_forceDelete"] is True
    assert "_forceDelete" not in checked.to_stored()


def test_a_row_that_does_not_fit_is_an_error_not_a_half_read_dict() -> None:
    with pytest.raises(ValidationError):
        ClusterExtensionRecord.from_stored({**_created(), "health": {"status": "Sideways"}})
    with pytest.raises(ValidationError):
        ClusterExtensionRecord.from_stored({k: v for k, v in _created().items() if k != "scope"})
