"""The pod a TetherJob with ``delivery`` and ``timeoutSeconds`` becomes: code download, output upload, deadline.

The scripts themselves run in tests/e2e/test_sdk_jobs.py (real node, real blob endpoint); here, the pod's shape.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether.agents.extension.delivery import CODE_DIR, FETCH_CONTAINER, WORK_DIR, WRAPPER
from tether.agents.extension.jobspec import JobFailed, JobSpec
from tether.agents.extension.pods import JobRef, render_pod
from tether.kube.extension_status import BUILT_IN_DEFAULT

WORKSPACE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
CODE = {"containerUrl": "https://127.0.0.1:8444/acct/code-1?sv=1&sig=a", "prefix": "src"}
OUTPUT = {
    "name": "model",
    "containerUrl": "https://127.0.0.1:8444/acct/blobstore?sv=1&sig=b",
    "prefix": "azureml/j/model",
}
JOB = JobRef("team-a", "j-1a2b", "uid-1")


def _spec(**overrides: Any) -> JobSpec:
    body: dict[str, Any] = {
        "jobName": "j",
        "command": "python train.py --out /tether/outputs/model",
        "image": "python:3.11",
        "computeName": "c1",
        "workspaceId": WORKSPACE,
    }
    return JobSpec.from_cr(body | overrides)


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_code_is_fetched_by_an_init_container_into_the_working_directory() -> None:
    spec = _spec(delivery={"code": CODE, "outputs": [OUTPUT], "caBundle": "PEM"})
    pod = render_pod(JOB, spec, index=0, instance_type=BUILT_IN_DEFAULT)

    (init,) = pod["spec"]["initContainers"]
    (main,) = pod["spec"]["containers"]
    assert init["name"] == FETCH_CONTAINER
    assert init["image"] == main["image"] == "python:3.11"
    assert _env(init)["TETHER_CODE_URL"] == CODE["containerUrl"]
    assert _env(init)["TETHER_CODE_PREFIX"] == "src"
    assert _env(init)["TETHER_CA_BUNDLE"] == "PEM"
    assert main["workingDir"] == CODE_DIR
    assert main["command"] == ["/bin/sh", "-c", WRAPPER]
    assert _env(main)["TETHER_COMMAND"] == "python train.py --out /tether/outputs/model"
    assert json.loads(_env(main)["TETHER_OUTPUTS"]) == [OUTPUT]
    assert _env(main)["TETHER_OUTPUT_NAMES"] == "model"
    volume = {"name": "tether-work", "emptyDir": {}}
    assert volume in pod["spec"]["volumes"]
    assert {"name": "tether-work", "mountPath": WORK_DIR} in init["volumeMounts"]
    assert {"name": "tether-work", "mountPath": WORK_DIR} in main["volumeMounts"]


def test_outputs_without_code_need_no_init_container() -> None:
    pod = render_pod(JOB, _spec(delivery={"outputs": [OUTPUT]}), index=0, instance_type=BUILT_IN_DEFAULT)

    assert "initContainers" not in pod["spec"]
    assert pod["spec"]["containers"][0]["workingDir"] == WORK_DIR


def test_without_delivery_the_command_runs_as_before() -> None:
    pod = render_pod(JOB, _spec(), index=0, instance_type=BUILT_IN_DEFAULT)

    assert pod["spec"]["containers"][0]["command"] == ["/bin/sh", "-c", "python train.py --out /tether/outputs/model"]
    assert "activeDeadlineSeconds" not in pod["spec"]


def test_the_timeout_is_the_pods_active_deadline() -> None:
    pod = render_pod(JOB, _spec(timeoutSeconds=600), index=0, instance_type=BUILT_IN_DEFAULT)

    assert pod["spec"]["activeDeadlineSeconds"] == 600


@pytest.mark.parametrize("bad", [0, -1, "60", True])
def test_a_timeout_that_is_not_a_positive_number_is_an_invalid_spec(bad: object) -> None:
    with pytest.raises(JobFailed, match="timeoutSeconds"):
        _spec(timeoutSeconds=bad)
