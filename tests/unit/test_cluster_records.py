"""Clusters' stored models: the layout on disk they read and write, and the public properties derived from them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tether.domain.models.clusters import (
    ConnectedClusterRecord,
    ConnectivityStatus,
    ManagedClusterRecord,
    OidcIssuerProfile,
)
from tether.protocol.clusters import cluster_properties

ISSUER = "https://127.0.0.1:6443/issuer"


def _managed_registered() -> dict[str, Any]:
    """A managed cluster's ``properties`` as ``providers/managed_clusters.put`` stored them before the model."""
    return {"fqdn": "https://127.0.0.1:6443", "kubeconfigContext": None}


def _managed_probed() -> dict[str, Any]:
    """... and after the registration's probe (``reconcile/managed_clusters``) merged what it found."""
    return {
        **_managed_registered(),
        "kubernetesVersion": "v1.31.2",
        "currentKubernetesVersion": "v1.31.2",
        "agentPoolProfiles": [{"name": "nodepool1", "count": 3, "gpuNodeCount": 1}],
        "oidcIssuerProfile": {"enabled": True, "issuerURL": ISSUER},
        "powerState": {"code": "Running"},
    }


def _connected_created() -> dict[str, Any]:
    """A connected cluster's ``properties`` as ``providers/connected_clusters.put`` stored them before the model."""
    return {
        "connectivityStatus": "Connecting",
        "lastConnectivityTime": None,
        "distribution": "generic",
        "infrastructure": "generic",
        "agentVersion": None,
        "kubernetesVersion": None,
        "totalNodeCount": None,
        "relayEndpoint": "wss://127.0.0.1:8443/relay/connect",
    }


def _connected_probed() -> dict[str, Any]:
    """... and once its tunnel opened and the probe through it answered (``reconcile/connectivity``)."""
    return {
        **_connected_created(),
        "connectivityStatus": "Connected",
        "lastConnectivityTime": "2026-12-04T09:00:00.123456Z",
        "agentVersion": "tether-connect/1",
        "kubernetesVersion": "v1.31.2",
        "totalNodeCount": 2,
        "gpuNodeCount": 0,
        "oidcIssuerProfile": {"enabled": False, "issuerURL": None},
    }


@pytest.mark.parametrize("stored", [_managed_registered(), _managed_probed()], ids=["registered", "probed"])
def test_a_managed_cluster_reads_and_writes_its_layout_unchanged(stored: dict[str, Any]) -> None:
    record = ManagedClusterRecord.from_stored(copy.deepcopy(stored))
    assert record.to_stored() == stored
    assert list(record.to_stored()) == list(stored)  # key order too: answers keep their order


def test_a_managed_cluster_before_its_probe_answers_no_probe_fields() -> None:
    record = ManagedClusterRecord.from_stored(_managed_registered())
    assert record.kubernetes_version is None
    assert cluster_properties(record, provisioning_state="Creating") == {
        "fqdn": "https://127.0.0.1:6443",
        "kubeconfigContext": None,
        "provisioningState": "Creating",
    }


def test_a_probed_managed_cluster_is_typed() -> None:
    record = ManagedClusterRecord.from_stored(_managed_probed())
    assert record.oidc_issuer_profile == OidcIssuerProfile(enabled=True, issuer_url=ISSUER)
    assert record.agent_pool_profiles is not None
    assert record.agent_pool_profiles[0].gpu_node_count == 1


@pytest.mark.parametrize("stored", [_connected_created(), _connected_probed()], ids=["created", "probed"])
def test_a_connected_cluster_reads_and_writes_its_layout_unchanged(stored: dict[str, Any]) -> None:
    record = ConnectedClusterRecord.from_stored(copy.deepcopy(stored))
    assert record.to_stored() == stored
    assert list(record.to_stored()) == list(stored)


def test_a_new_connected_cluster_is_stored_as_the_provider_stored_it() -> None:
    record = ConnectedClusterRecord(relay_endpoint="wss://127.0.0.1:8443/relay/connect")
    assert record.to_stored() == _connected_created()
    assert not record.connected


def test_connectivity_changes_write_the_status_as_its_wire_string() -> None:
    record = ConnectedClusterRecord.from_stored(_connected_probed())
    assert record.connected
    offline = record.model_copy(update={"connectivity_status": ConnectivityStatus.OFFLINE})
    assert offline.to_stored()["connectivityStatus"] == "Offline"
    assert record.to_stored()["connectivityStatus"] == "Connected"  # the original is unchanged (frozen)
    answered = cluster_properties(offline, provisioning_state="Succeeded")
    assert answered == {**_connected_probed(), "connectivityStatus": "Offline", "provisioningState": "Succeeded"}


def test_a_row_that_does_not_fit_is_an_error_not_a_half_read_dict() -> None:
    with pytest.raises(ValidationError):
        ConnectedClusterRecord.from_stored({**_connected_created(), "connectivityStatus": "Sideways"})
    with pytest.raises(ValidationError):
        ManagedClusterRecord.from_stored({"kubeconfigContext": None})
