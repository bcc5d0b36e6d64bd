"""The job controller's pure parts, without a cluster: the TetherJob spec, pod rendering, gang placement
and the status derived from pods. The controller against the real cluster is tests/cluster/test_operator_jobs.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from lightkube.resources.core_v1 import Node, Pod

from tether.agents.extension.checks import OperatorSettings
from tether.agents.extension.job_status import (
    Verdict,
    entries_after_deleting,
    judge,
    next_status,
    view_pod,
)
from tether.agents.extension.jobs import admit_instance_type
from tether.agents.extension.jobspec import JobFailed, JobSpec, check_job_name, workspace_label
from tether.agents.extension.placement import TIMES, node_rooms, plan_gang
from tether.agents.extension.pods import JobRef, pod_requests, render_pod, render_service_account
from tether.kube import extension_manifests as m
from tether.kube.extension_status import BUILT_IN_DEFAULT, InstanceTypeInfo

WORKSPACE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/my_ws"
IDENTITY = {
    "clientId": "client-1",
    "tenantId": "tenant-1",
    "authorityHost": "https://tether.example/",
    "serviceAccountName": "tether-compute-c1",
}
GPU = InstanceTypeInfo(
    name="gpu",
    requests={"cpu": "2", "memory": "2Gi"},
    limits={"cpu": "2", "memory": "2Gi"},
    gpus=1,
    node_selector={"tether.dev/node-pool": "gpu"},
)
JOB = JobRef("team-a", "train-1a2b", "uid-1")


def _spec(**overrides: Any) -> JobSpec:
    body: dict[str, Any] = {
        "jobName": "sincere_lemon",
        "command": "python train.py",
        "image": "python:3.11",
        "computeName": "c1",
        "workspaceId": WORKSPACE,
        "identity": IDENTITY,
    }
    return JobSpec.from_cr(body | overrides)


def _env(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}


# --- spec ---------------------------------------------------------------------------------------------


def test_spec_defaults_and_fields() -> None:
    spec = _spec(podAnnotations={"tether.dev/simulate-exit": "3"})

    assert spec.instance_type == "defaultinstancetype"
    assert spec.instance_count == 1
    assert spec.cancel_requested is False
    assert spec.identity is not None
    assert spec.identity.service_account_name == "tether-compute-c1"
    assert spec.pod_annotations == {"tether.dev/simulate-exit": "3"}


@pytest.mark.parametrize(
    "overrides",
    [{"command": ""}, {"instanceCount": 0}, {"instanceCount": "2"}, {"identity": {"clientId": "x"}}, {"image": 3}],
)
def test_a_spec_the_crd_would_refuse_fails_the_job_as_invalid(overrides: dict[str, Any]) -> None:
    with pytest.raises(JobFailed) as caught:
        _spec(**overrides)
    assert caught.value.code == "InvalidSpec"


def test_job_names_must_leave_room_for_pod_names() -> None:
    check_job_name("a" * 57)
    with pytest.raises(JobFailed, match="shorter name"):
        check_job_name("a" * 58)


def test_workspace_label_is_the_workspace_name_made_label_safe() -> None:
    assert workspace_label(WORKSPACE) == "my_ws"
    assert workspace_label("/subscriptions/s/workspaces/" + "w" * 80) == "w" * 63


# --- pods ---------------------------------------------------------------------------------------------


def test_pod_carries_the_workload_identity_contract_and_no_secrets() -> None:
    spec = _spec(environmentVariables={"EPOCHS": "2", "AZURE_CLIENT_ID": "spoofed"})

    pod = render_pod(JOB, spec, index=1, instance_type=BUILT_IN_DEFAULT)

    env = _env(pod)
    assert env["EPOCHS"] == "2"
    assert env["AZURE_CLIENT_ID"] == "client-1"
    assert env["AZURE_TENANT_ID"] == "tenant-1"
    assert env["AZURE_AUTHORITY_HOST"] == "https://tether.example/"
    assert env["AZURE_FEDERATED_TOKEN_FILE"] == "/var/run/secrets/azure/tokens/azure-identity-token"
    assert [e["name"] for e in pod["spec"]["containers"][0]["env"]].count("AZURE_CLIENT_ID") == 1
    assert env["TETHER_INSTANCE_INDEX"] == "1"
    assert pod["spec"]["volumes"] == [
        {
            "name": "azure-identity-token",
            "projected": {
                "sources": [
                    {
                        "serviceAccountToken": {
                            "audience": "api://AzureADTokenExchange",
                            "expirationSeconds": 3600,
                            "path": "azure-identity-token",
                        }
                    }
                ]
            },
        }
    ]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "azure-identity-token", "mountPath": "/var/run/secrets/azure/tokens", "readOnly": True}
    ]
    assert pod["spec"]["serviceAccountName"] == "tether-compute-c1"
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert not any("secret" in volume for volume in pod["spec"]["volumes"])
    assert not any("valueFrom" in e for e in pod["spec"]["containers"][0]["env"])
    assert "envFrom" not in pod["spec"]["containers"][0]


def test_pod_shape_names_labels_owner_and_command() -> None:
    spec = _spec(podAnnotations={"tether.dev/simulate-log": "hi"})

    pod = render_pod(JOB, spec, index=0, instance_type=BUILT_IN_DEFAULT)

    meta = pod["metadata"]
    assert (meta["name"], meta["namespace"]) == ("train-1a2b-0", "team-a")
    assert meta["labels"]["tether.dev/job"] == "train-1a2b"
    assert meta["labels"]["tether.dev/compute"] == "c1"
    assert meta["labels"]["tether.dev/workspace"] == "my_ws"
    assert meta["labels"]["tether.dev/instance-index"] == "0"
    assert meta["annotations"]["tether.dev/simulate-log"] == "hi"
    assert meta["annotations"]["tether.dev/workspace-id"] == WORKSPACE
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "tether.dev/v1",
            "kind": "TetherJob",
            "name": "train-1a2b",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["spec"]["restartPolicy"] == "Never"
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["/bin/sh", "-c", "python train.py"]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert "nodeSelector" not in pod["spec"]
    assert "tolerations" not in pod["spec"]


def test_gpu_instance_type_sets_gpu_limit_selector_and_toleration() -> None:
    pod = render_pod(JOB, _spec(), index=0, instance_type=GPU, extension_node_selector={"agentpool": "ml"})

    resources = pod["spec"]["containers"][0]["resources"]
    assert resources["limits"] == {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"}
    assert "nvidia.com/gpu" not in resources["requests"]
    assert pod["spec"]["nodeSelector"] == {"agentpool": "ml", "tether.dev/node-pool": "gpu"}
    assert pod["spec"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod_requests(GPU) == {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"}


def test_without_identity_pods_use_default_and_get_no_token() -> None:
    spec = JobSpec.from_cr(
        {"jobName": "j", "command": "true", "image": "i", "computeName": "c1", "workspaceId": WORKSPACE}
    )

    pod = render_pod(JOB, spec, index=0, instance_type=BUILT_IN_DEFAULT)

    assert pod["spec"]["serviceAccountName"] == "default"
    assert "volumes" not in pod["spec"]
    assert not any(name.startswith("AZURE_") for name in _env(pod))
    assert render_service_account("team-a", spec) is None


def test_service_account_is_annotated_with_the_client_id() -> None:
    account = render_service_account("team-a", _spec())

    assert account is not None
    assert account["metadata"]["name"] == "tether-compute-c1"
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == "client-1"
    assert account["automountServiceAccountToken"] is False
    assert "secrets" not in account


# --- placement ----------------------------------------------------------------------------------------


def _node(name: str, *, cpu: str = "8", memory: str = "32Gi", gpus: int = 0, ready: bool = True) -> Node:
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
    labels = {"tether.dev/node-pool": "gpu" if gpus else "cpu"}
    spec: dict[str, Any] = {}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
        spec["taints"] = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    return cast(
        Node,
        Node.from_dict(
            {
                "metadata": {"name": name, "labels": labels},
                "spec": spec,
                "status": {
                    "allocatable": allocatable,
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                },
            }
        ),
    )


def _pod(name: str, requests: dict[str, str], *, node: str | None, phase: str = "Running", ours: bool = False) -> Pod:
    labels = {"tether.dev/job": "other"} if ours else {}
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": requests}}]}
    if node:
        spec["nodeName"] = node
    return cast(
        Pod, Pod.from_dict({"metadata": {"name": name, "labels": labels}, "spec": spec, "status": {"phase": phase}})
    )


CPU_NODES = [_node("cpu-0"), _node("cpu-1"), _node("gpu-0", cpu="24", memory="220Gi", gpus=1)]
GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def _plan(
    pods: list[Pod], *, count: int, requests: dict[str, str], gpu: bool = False, nodes: list[Node] | None = None
) -> Any:
    selector = {"tether.dev/node-pool": "gpu" if gpu else "cpu"}
    rooms = node_rooms(
        nodes if nodes is not None else CPU_NODES,
        pods,
        node_selector=selector,
        tolerations=GPU_TOLERATIONS if gpu else [],
    )
    return plan_gang(rooms, count=count, requests=requests, node_selector=selector)


def test_a_gang_fits_when_every_pod_has_room() -> None:
    plan = _plan([], count=2, requests={"cpu": "5", "memory": "1Gi"})

    assert plan.fits
    assert (plan.room, plan.nodes_with_room) == (2, 2)


def test_bound_pods_take_room_and_finished_pods_do_not() -> None:
    pods = [
        _pod("busy", {"cpu": "4"}, node="cpu-0"),
        _pod("done", {"cpu": "8"}, node="cpu-1", phase="Succeeded"),
    ]

    plan = _plan(pods, count=2, requests={"cpu": "5", "memory": "1Gi"})

    assert not plan.fits
    assert plan.message.startswith(f"needs 2 pods {TIMES} (cpu 5, memory 1Gi); nodes with room: 1 (cpu-1: 1)")
    assert "The job starts when enough running pods finish." in plan.message


def test_pending_pods_of_other_jobs_are_counted_as_placed() -> None:
    pods = [_pod("other-0", {"cpu": "5"}, node=None, phase="Pending", ours=True)]

    plan = _plan(pods, count=2, requests={"cpu": "5", "memory": "1Gi"})

    assert not plan.fits
    assert plan.room == 1


def test_gpu_gang_message_says_what_is_needed_and_free() -> None:
    plan = _plan([], count=3, requests={"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"}, gpu=True)

    assert not plan.fits
    assert plan.message.startswith(
        f"needs 3 pods {TIMES} (cpu 2, memory 2Gi, nvidia.com/gpu 1); nodes with room: 1 (gpu-0: 1)"
    )
    assert "even with nothing else running they fit only 1" in plan.message
    assert plan.room_when_idle == 1


def test_cpu_pods_never_count_the_tainted_gpu_node() -> None:
    plan = _plan([], count=3, requests={"cpu": "5", "memory": "1Gi"})

    assert not plan.fits
    assert plan.room == 2
    selector_gpu_without_toleration = node_rooms(CPU_NODES, [], node_selector={}, tolerations=[])
    assert {r.name for r in selector_gpu_without_toleration if r.eligible} == {"cpu-0", "cpu-1"}


def test_not_ready_nodes_are_not_eligible_and_the_message_says_so() -> None:
    plan = _plan([], count=1, requests={"cpu": "1", "memory": "1Gi"}, nodes=[_node("cpu-0", ready=False)])

    assert not plan.fits
    assert "No Ready, schedulable node matches tether.dev/node-pool=cpu" in plan.message


# --- status -------------------------------------------------------------------------------------------

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _status_pod(name: str, phase: str, *, exit_code: int | None = None, unschedulable: bool = False) -> Pod:
    status: dict[str, Any] = {"phase": phase}
    if phase in ("Running", "Succeeded", "Failed"):
        status["startTime"] = "2025-01-02T03:04:06Z"
    if exit_code is not None:
        status["containerStatuses"] = [
            {
                "name": "main",
                "image": "i",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {
                    "terminated": {
                        "exitCode": exit_code,
                        "reason": "Error" if exit_code else "Completed",
                        "finishedAt": "2025-01-02T03:04:09Z",
                    }
                },
            }
        ]
    if unschedulable:
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
            }
        ]
    index = name.rsplit("-", 1)[-1]
    body = {
        "metadata": {"name": name, "labels": {"tether.dev/instance-index": index}},
        "spec": {"containers": [{"name": "main"}], "nodeName": "kwok-cpu-0" if phase != "Pending" else None},
        "status": status,
    }
    return cast(Pod, Pod.from_dict(body))


def test_a_failed_pod_fails_the_job_with_its_exit_code() -> None:
    views = [view_pod(_status_pod("j-0", "Failed", exit_code=3)), view_pod(_status_pod("j-1", "Running"))]

    verdict = judge(views, count=2)

    assert verdict == Verdict("Failed", "PodFailed", "pod j-0 failed with exit code 3 (Error)")
    assert views[0].exit_code == 3


def test_phases_from_pods() -> None:
    pending = [view_pod(_status_pod("j-0", "Running")), view_pod(_status_pod("j-1", "Pending", unschedulable=True))]
    assert judge(pending, count=2) == Verdict(
        "Starting",
        "Unschedulable",
        "1 of 2 pods started; j-1: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.",
    )
    running = [view_pod(_status_pod("j-0", "Running")), view_pod(_status_pod("j-1", "Succeeded", exit_code=0))]
    assert judge(running, count=2).phase == "Running"
    done = [view_pod(_status_pod(f"j-{i}", "Succeeded", exit_code=0)) for i in range(2)]
    assert judge(done, count=2) == Verdict("Succeeded", "PodsSucceeded", "all 2 pods succeeded")


def test_status_is_stable_when_nothing_changed() -> None:
    views = [view_pod(_status_pod(f"j-{i}", "Succeeded", exit_code=0)) for i in range(2)]
    entries = [v.to_status() for v in views]
    verdict = judge(views, count=2)

    first = next_status({}, verdict=verdict, pods=entries, admitted=True, count=2, generation=1, now=T0)
    again = next_status(
        first, verdict=verdict, pods=entries, admitted=True, count=2, generation=1, now=T0.replace(hour=9)
    )

    assert again == first
    assert first["startTime"] == "2025-01-02T03:04:05Z"
    assert first["runningTime"] == "2025-01-02T03:04:06Z"
    assert first["completionTime"] == "2025-01-02T03:04:09Z"
    assert first["observedGeneration"] == 1
    assert {c["type"]: (c["status"], c["reason"]) for c in first["conditions"]} == {
        "Admitted": ("True", "PodsCreated"),
        "Running": ("False", "PodsSucceeded"),
        "Finished": ("True", "PodsSucceeded"),
    }


def test_waiting_status_has_no_pods_and_no_start() -> None:
    verdict = Verdict("Pending", "WaitingForCapacity", "needs ...")

    status = next_status({}, verdict=verdict, pods=[], admitted=False, count=3, generation=1, now=T0)

    assert status["pods"] == []
    assert "startTime" not in status
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Admitted": "False",
        "Running": "False",
        "Finished": "False",
    }


def test_deleted_pods_are_marked_but_finished_ones_keep_their_phase() -> None:
    seen = [view_pod(_status_pod("j-0", "Failed", exit_code=3)), view_pod(_status_pod("j-1", "Running"))]
    previous = {"pods": [{"name": "j-2", "index": 2, "phase": "Running"}]}

    entries = entries_after_deleting(previous, seen=seen, deleted=["j-1"], reason="JobFailed")

    assert {e["name"]: (e["phase"], e.get("reason")) for e in entries} == {
        "j-0": ("Failed", "Error"),
        "j-1": ("Deleted", "JobFailed"),
        "j-2": ("Deleted", "JobFailed"),
    }


# --- RBAC ---------------------------------------------------------------------------------------------


def test_the_workloads_role_is_what_the_job_controller_uses_and_no_more() -> None:
    [role] = [
        o
        for o in m.render(m.ExtensionConfig())
        if o["kind"] == "ClusterRole" and o["metadata"]["name"] == m.WORKLOADS_CLUSTER_ROLE_NAME
    ]
    verbs = {(tuple(r["apiGroups"]), r["resources"][0]): set(r["verbs"]) for r in role["rules"]}

    assert verbs[(("",), "pods")] == {"get", "list", "watch", "create", "delete"}
    assert verbs[(("",), "serviceaccounts")] == {"get", "create", "patch"}
    assert verbs[(("", "events.k8s.io"), "events")] == {"create"}
    assert verbs[(("",), "secrets")] == {"create", "update"}  # image-pull secrets: written, never read


# --- admission ----------------------------------------------------------------------------------------

TRAINING = OperatorSettings(enable_training=True, enable_inference=False, node_selector={})


def test_admission_picks_the_named_instance_type() -> None:
    assert admit_instance_type(TRAINING, "gpu", [BUILT_IN_DEFAULT, GPU]) is GPU


def test_admission_refuses_when_training_is_disabled() -> None:
    inference_only = OperatorSettings(enable_training=False, enable_inference=True, node_selector={})

    with pytest.raises(JobFailed) as caught:
        admit_instance_type(inference_only, "defaultinstancetype", [BUILT_IN_DEFAULT])

    assert caught.value.code == "E45004"
    assert caught.value.message == (
        "E45004: Training feature is not enabled, please enable it when install the extension."
    )


def test_an_unknown_instance_type_lists_the_known_ones() -> None:
    with pytest.raises(JobFailed) as caught:
        admit_instance_type(TRAINING, "huge", [BUILT_IN_DEFAULT, GPU])

    assert caught.value.code == "UnknownInstanceType"
    assert "Known instance types: defaultinstancetype, gpu." in caught.value.message


def test_an_image_that_cannot_be_pulled_fails_the_job_naming_the_image() -> None:
    pod = _status_pod("j-0", "Pending")
    assert pod.status is not None
    waiting = {"reason": "ErrImagePull", "message": "failed to pull and unpack image: connection refused"}
    pod.status.containerStatuses = cast(
        Any,
        Pod.from_dict(
            {
                "status": {
                    "containerStatuses": [
                        {
                            "name": "main",
                            "image": "tether.local/nope:1",
                            "imageID": "",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"waiting": waiting},
                        }
                    ]
                }
            }
        ).status,
    ).containerStatuses

    verdict = judge([view_pod(pod)], count=1)

    assert verdict.phase == "Failed"
    assert 'image "tether.local/nope:1" could not be pulled' in verdict.message
    assert "ErrImagePull" in verdict.message


def test_a_pod_selecting_host_network_nodes_uses_the_host_network_and_tolerates_their_taint() -> None:
    real = InstanceTypeInfo(
        name="real",
        requests={"cpu": "100m"},
        limits={"memory": "128Mi"},
        node_selector={"tether.dev/pod-network": "host"},
    )

    pod = render_pod(JOB, _spec(), index=0, instance_type=real)

    assert pod["spec"]["hostNetwork"] is True
    assert pod["spec"]["tolerations"] == [
        {"key": "tether.dev/pod-network", "operator": "Equal", "value": "host", "effect": "NoSchedule"}
    ]
    assert "hostNetwork" not in render_pod(JOB, _spec(), index=0, instance_type=BUILT_IN_DEFAULT)["spec"]


def test_an_authority_with_a_private_ca_is_trusted_through_a_projected_annotation() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    spec = _spec(identity={**IDENTITY, "caBundle": pem})

    pod = render_pod(JOB, spec, index=0, instance_type=BUILT_IN_DEFAULT)

    env = _env(pod)
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == "/var/run/secrets/azure/tokens/authority-ca.crt"
    assert pod["metadata"]["annotations"]["tether.dev/authority-ca-bundle"] == pem
    sources = pod["spec"]["volumes"][0]["projected"]["sources"]
    assert sources[1] == {
        "downwardAPI": {
            "items": [
                {
                    "path": "authority-ca.crt",
                    "fieldRef": {"fieldPath": "metadata.annotations['tether.dev/authority-ca-bundle']"},
                }
            ]
        }
    }
    assert "REQUESTS_CA_BUNDLE" not in _env(render_pod(JOB, _spec(), index=0, instance_type=BUILT_IN_DEFAULT))
