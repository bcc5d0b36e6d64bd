"""Typed views of ARM answers: fields read by attribute, a missing one a clear error naming it."""

from __future__ import annotations

import pytest

from tether.cli.output import emit
from tether.client import ClientError
from tether.client.views import read_view
from tether.protocol.answers import (
    ComputeAnswer,
    ExtensionAnswer,
    JobAnswer,
    RegistryAnswer,
    ResourceAnswer,
    UnexpectedAnswer,
    provisioning_state_column,
    read_answer,
)

_JOB = {
    "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/jobs/j",
    "name": "j",
    "properties": {"status": "Failed", "computeId": "/x/computes/c", "error": {"code": "E", "message": "m"}},
}


def test_a_job_answer_reads_by_attribute_and_keeps_fields_it_does_not_name() -> None:
    job = read_answer(JobAnswer, {**_JOB, "systemData": {"createdBy": "me"}}, what="job 'j'")
    assert job.properties.status == "Failed"
    assert job.properties.timeline == []
    assert job.properties.error == {"code": "E", "message": "m"}
    assert job.model_extra == {"systemData": {"createdBy": "me"}}


def test_absent_or_null_objects_read_as_empty() -> None:
    assert read_answer(ResourceAnswer, {"id": "i", "name": "n", "properties": None}, what="x").properties == {}
    extension = read_answer(
        ExtensionAnswer, {"id": "i", "name": "n", "properties": {"extensionType": "t", "health": None}}, what="x"
    )
    assert extension.properties.health == {}
    assert extension.properties.configurationSettings == {}


def test_a_missing_field_is_an_unexpected_answer_naming_it() -> None:
    answer = {**_JOB, "properties": {"computeId": "/x"}}
    with pytest.raises(UnexpectedAnswer) as raised:
        read_answer(JobAnswer, answer, what="job 'j'")
    assert "job 'j'" in raised.value.message
    assert "'properties.status'" in raised.value.message
    assert raised.value.code == "UnexpectedAnswer"


def test_a_nested_missing_field_is_named_by_its_path() -> None:
    compute = {"id": "i", "name": "c", "properties": {"computeType": "Kubernetes", "resourceId": "r", "properties": {}}}
    with pytest.raises(UnexpectedAnswer, match=r"'properties\.properties\.namespace'"):
        read_answer(ComputeAnswer, compute, what="compute 'c'")


def test_the_client_reports_a_missing_field_as_a_client_error() -> None:
    with pytest.raises(ClientError) as raised:
        read_view(RegistryAnswer, {"id": "i", "name": "r", "properties": {}}, what="registry 'r'")
    assert raised.value.code == "UnexpectedAnswer"
    assert "registry 'r'" in raised.value.message
    assert "loginServer" in raised.value.message


def test_the_table_state_column_comes_from_properties_when_present_even_null() -> None:
    assert provisioning_state_column({"name": "n", "properties": {"provisioningState": "Succeeded"}}) == {
        "provisioningState": "Succeeded"
    }
    assert provisioning_state_column({"properties": {"provisioningState": None}}) == {"provisioningState": None}
    assert provisioning_state_column({"properties": {"other": 1}}) == {}
    assert provisioning_state_column({"properties": "not an object"}) == {}
    assert provisioning_state_column({"name": "n"}) == {}


def test_table_output_shows_the_state_column_and_drops_id(capsys: pytest.CaptureFixture[str]) -> None:
    items = [
        {"id": "/i/a", "name": "a", "properties": {"provisioningState": "Succeeded"}},
        {"id": "/i/b", "name": "b", "properties": {}},
    ]
    emit(items, output="table", query=None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Name", "ProvisioningState"]
    assert lines[1].split() == ["a", "Succeeded"]
    assert lines[2].split() == ["b"]
