"""A job's stored model: the layout on disk it reads and writes, and the public properties derived from it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tether.domain.jobs import JobStatus
from tether.domain.models.jobs import JobRecord
from tether.protocol.jobs import job_properties

COMPUTE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws/computes/c1"
)
CLUSTER = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.ContainerService/managedClusters/k"
)
PRIVATE_KEYS = ("_run", "clusterJobName", "namespace", "clusterId")


def _stored() -> dict[str, Any]:
    """A dispatched, running job's ``properties`` as the server stored them before the model existed."""
    return {
        "jobType": "Command",
        "command": "python train.py --out ${{outputs.model}}",
        "environmentId": "azureml:py:1",
        "computeId": COMPUTE,
        "resources": {"instanceCount": 2, "instanceType": "small", "properties": {"x": {"y": 1}}},
        "environmentVariables": {"A": "1"},
        "tags": {"team": "ml"},
        "properties": {"p": "v"},
        "isArchived": False,
        "inputs": {"lr": {"jobInputType": "literal", "value": "0.1", "sdkOnly": {"kept": True}}},
        "outputs": {
            "model": {
                "jobOutputType": "uri_folder",
                "mode": "ReadWriteMount",
                "uri": "azureml://datastores/workspaceblobstore/paths/azureml/j/model/",
                "assetName": "kept-as-sent",
            }
        },
        "distribution": {"distributionType": "PyTorch", "processCountPerInstance": 1},
        "status": "Running",
        "timeline": [
            {"phase": "Queued", "time": "2026-11-28T10:00:00.000001Z", "reason": "waiting for dispatch to the cluster"},
            {"phase": "Dispatched", "time": "2026-11-28T10:00:00.5Z", "reason": "TetherJob ns/j-1 created"},
            {
                "phase": "Running",
                "time": "2026-11-28T10:00:02Z",
                "reason": "PodsRunning: all pods",
                "code": "PodsRunning",
            },
        ],
        "error": None,
        "cancelRequested": False,
        "pods": [{"name": "j-1-0", "phase": "Running"}],
        "_run": {
            "image": "python:3.11",
            "command": "python train.py --out /tether/outputs/model",
            "code": {"account": "acct", "container": "code", "prefix": "snap/1"},
            "timeoutSeconds": 3600,
        },
        "clusterJobName": "j-1",
        "namespace": "ns",
        "clusterId": CLUSTER,
    }


def test_a_stored_job_reads_into_its_parts_and_writes_back_the_same_json() -> None:
    stored = _stored()

    record = JobRecord.from_stored(copy.deepcopy(stored))

    assert record.state.status is JobStatus.RUNNING
    assert record.state.timeline[-1].code == "PodsRunning"
    assert record.spec.resources.instanceCount == 2
    assert record.private.run is not None
    assert record.private.run.timeout_seconds == 3600
    assert record.private.run.code is not None
    assert record.private.run.code.prefix == "snap/1"
    assert record.private.placement is not None
    assert record.private.placement.cluster_job_name == "j-1"
    assert record.dispatched
    assert record.to_stored() == stored


def test_a_job_stored_before_runs_were_resolved_reads_without_a_run() -> None:
    stored = {k: v for k, v in _stored().items() if k not in PRIVATE_KEYS}

    record = JobRecord.from_stored(stored)

    assert record.private.run is None
    assert not record.dispatched
    assert record.to_stored() == stored


def test_the_public_properties_are_the_spec_and_the_state_never_the_private_part() -> None:
    stored = _stored()
    record = JobRecord.from_stored(stored)

    public = job_properties(record, studio_endpoint="http://127.0.0.1:1/studio/j")

    assert public["services"]["Studio"]["endpoint"] == "http://127.0.0.1:1/studio/j"
    assert {k: v for k, v in public.items() if k != "services"} == {
        k: v for k, v in stored.items() if k not in PRIVATE_KEYS
    }
    assert not set(PRIVATE_KEYS) & set(public)
    assert "services" not in job_properties(record)


def test_a_stored_job_is_changed_only_by_building_a_new_one() -> None:
    record = JobRecord.from_stored(_stored())

    with pytest.raises(ValidationError):
        record.state.status = JobStatus.FAILED  # type: ignore[misc]

    canceled = record.model_copy(update={"state": record.state.model_copy(update={"status": JobStatus.CANCELED})})
    assert canceled.to_stored()["status"] == "Canceled"
    assert record.to_stored()["status"] == "Running"


def test_a_stored_job_that_does_not_fit_its_model_is_refused() -> None:
    stored = {**_stored(), "status": "Sleeping"}

    with pytest.raises(ValidationError):
        JobRecord.from_stored(stored)
