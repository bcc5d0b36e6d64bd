"""Images in a Tether registry: recognising the registry host, the pods' pull settings, the pull secret."""

from __future__ import annotations

import base64
import json

import pytest

from tether.agents.extension.jobspec import JobSpec
from tether.agents.extension.pods import JobRef, render_pod
from tether.agents.extension.pull_secrets import DOCKER_TOKEN_USER, render_pull_secret
from tether.kube.extension_status import BUILT_IN_DEFAULT
from tether.reconcile.dispatch_plan import image_host

JOB = JobRef(namespace="team", name="job-1", uid="uid-1")


@pytest.mark.parametrize(
    ("image", "host"),
    [
        ("127.0.0.1:5000/ml/base:v1", "127.0.0.1:5000"),
        ("myreg.azurecr.io/base", "myreg.azurecr.io"),
        ("localhost/base:1", "localhost"),
        ("python:3.11", None),
        ("library/python:3.11", None),
        ("tether.local/base:py3.11-bookworm", "tether.local"),
    ],
)
def test_the_registry_host_of_an_image(image: str, host: str | None) -> None:
    assert image_host(image) == host


def _spec(registry: str | None) -> JobSpec:
    return JobSpec.from_cr(
        {
            "jobName": "j",
            "command": "true",
            "image": "127.0.0.1:5000/ml/base:v1",
            "computeName": "c1",
            "workspaceId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w",
            **({"imageRegistry": {"loginServer": registry}} if registry else {}),
        }
    )


def test_pods_of_a_registry_image_pull_always_with_the_jobs_secret() -> None:
    pod = render_pod(JOB, _spec("127.0.0.1:5000"), index=0, instance_type=BUILT_IN_DEFAULT)
    assert pod["spec"]["imagePullSecrets"] == [{"name": "job-1-pull"}]
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_pods_of_other_images_have_no_pull_secret() -> None:
    pod = render_pod(JOB, _spec(None), index=0, instance_type=BUILT_IN_DEFAULT)
    assert "imagePullSecrets" not in pod["spec"]
    assert "imagePullPolicy" not in pod["spec"]["containers"][0]


def test_the_pull_secret_is_a_docker_config_owned_by_the_job() -> None:
    secret = render_pull_secret(JOB, login_server="127.0.0.1:5000", refresh_token="rt")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    entry = config["auths"]["127.0.0.1:5000"]
    assert (entry["username"], entry["password"]) == (DOCKER_TOKEN_USER, "rt")
