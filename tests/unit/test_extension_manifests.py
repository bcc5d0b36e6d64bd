"""The ML extension's rendered objects and its status contract, without a cluster.

What the API server enforces (CRD validation, RBAC denials) is tested against the real cluster in
tests/cluster/test_extension.py; here: what is rendered for which settings, the least-privilege shape
of the RBAC, the generated deploy/ml-extension.yaml, and the status ConfigMap round trip.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tether.cli.agent_extension import extension
from tether.domain import resource_types as rt
from tether.domain.names import validate_name
from tether.errors import InvalidRequest
from tether.kube import extension_crds
from tether.kube import extension_manifests as m
from tether.kube.extension_status import (
    BUILT_IN_DEFAULT,
    ExtensionCheck,
    InstanceTypeInfo,
    NodeSummary,
    StatusReport,
    describe_age,
    merge_instance_types,
)

DEPLOY_YAML = Path(__file__).resolve().parents[2] / "deploy" / "ml-extension.yaml"


def _kinds(objects: list[dict[str, Any]]) -> list[str]:
    return [o["kind"] for o in objects]


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_render_orders_namespace_then_crds_then_the_rest() -> None:
    objects = m.render(m.ExtensionConfig())

    assert _kinds(objects)[:3] == ["Namespace", "CustomResourceDefinition", "CustomResourceDefinition"]
    assert objects[0]["metadata"]["name"] == "azureml"
    assert {o["metadata"]["name"] for o in objects[1:3]} == set(m.CRD_NAMES)
    assert _kinds(objects)[-1] == "Deployment"
    for obj in objects:
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tether"
        if obj["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == "azureml"


def test_local_process_mode_renders_no_deployment() -> None:
    kinds = _kinds(m.render(m.ExtensionConfig(in_cluster=False)))

    assert "Deployment" not in kinds
    assert "ServiceAccount" in kinds
    assert "ConfigMap" in kinds


def test_nvidia_device_plugin_only_when_asked_for() -> None:
    assert "DaemonSet" not in _kinds(m.render(m.ExtensionConfig()))
    objects = m.render(m.ExtensionConfig(install_nvidia_device_plugin=True))
    plugin = _find(objects, "DaemonSet", m.NVIDIA_DEVICE_PLUGIN_NAME)
    tolerations = plugin["spec"]["template"]["spec"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations


def test_configuration_settings_are_parsed_like_azure() -> None:
    config = m.ExtensionConfig.from_configuration_settings(
        {
            "enableTraining": "True",
            "enableInference": "false",
            "installNvidiaDevicePlugin": "TRUE",
            "nodeSelector.tether.dev/node-pool": "cpu",
            "nodeSelector.disk": "ssd",
            "allowInsecureConnections": "True",  # an Azure setting Tether does not use: ignored
        },
        release_train="preview",
    )

    assert config.enable_training
    assert not config.enable_inference
    assert config.install_nvidia_device_plugin
    assert config.node_selector == {"tether.dev/node-pool": "cpu", "disk": "ssd"}
    assert config.release_train == "preview"
    assert config.namespace == "azureml"


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        pytest.param({}, "enableTraining=True or enableInference=True", id="no-feature"),
        pytest.param(
            {"enableTraining": "False", "enableInference": "False"}, "enableTraining=True", id="both-disabled"
        ),
        pytest.param({"enableTraining": "yes"}, "must be True or False", id="not-a-boolean"),
        pytest.param({"enableTraining": "True", "nodeSelector.bad key": "x"}, "not a valid node label", id="bad-key"),
        pytest.param({"enableTraining": "True", "nodeSelector.pool": "-x"}, "not a valid node label", id="bad-value"),
    ],
)
def test_bad_configuration_settings_are_refused(settings: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(fragment)) as caught:
        m.ExtensionConfig.from_configuration_settings(settings)
    assert caught.value.code == "InvalidConfigurationSettings"


def test_deployment_runs_the_operator_with_its_service_account_and_node_selector() -> None:
    config = m.ExtensionConfig(node_selector={"tether.dev/node-pool": "cpu"}, operator_image="registry.local/tether:1")
    deployment = _find(m.render(config), "Deployment", m.DEPLOYMENT_NAME)
    pod = deployment["spec"]["template"]["spec"]

    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["serviceAccountName"] == m.SERVICE_ACCOUNT_NAME
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "tether.dev/node-pool": "cpu"}
    [container] = pod["containers"]
    assert container["image"] == "registry.local/tether:1"
    assert container["command"] == ["tether", "agent", "extension", "--in-cluster", "--namespace", "azureml"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_settings_config_map_carries_the_settings() -> None:
    config = m.ExtensionConfig(enable_inference=True, node_selector={"pool": "a"}, in_cluster=False)
    data = _find(m.render(config), "ConfigMap", m.CONFIG_MAP_NAME)["data"]

    assert data == {
        "releaseTrain": "stable",
        "version": config.version,
        "enableTraining": "true",
        "enableInference": "true",
        "installNvidiaDevicePlugin": "false",
        "nodeSelector": json.dumps({"pool": "a"}),
        "operatorMode": "local-process",
    }


def _all_rules(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(o["kind"], rule) for o in objects if o["kind"] in ("ClusterRole", "Role") for rule in o["rules"]]


def test_rbac_has_no_wildcards_and_never_reads_secrets() -> None:
    for _, rule in _all_rules(m.render(m.ExtensionConfig())):
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]
        assert "*" not in rule["apiGroups"]
        if "secrets" in rule["resources"]:  # jobs' image-pull secrets: written, never read
            assert set(rule["verbs"]) <= {"create", "update"}
        assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"])


def test_cluster_wide_writes_are_limited_to_workloads_and_job_status() -> None:
    writes = {"create", "update", "patch", "delete"}
    cluster_writes = {
        (group, resource)
        for kind, rule in _all_rules(m.render(m.ExtensionConfig()))
        if kind == "ClusterRole" and writes & set(rule["verbs"])
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }

    assert cluster_writes == {
        ("tether.dev", "tetherjobs/status"),
        ("tether.dev", "tetherjobs/finalizers"),
        ("", "pods"),
        ("", "serviceaccounts"),
        ("", "serviceaccounts/token"),
        ("", "secrets"),
        ("", "events"),
        ("events.k8s.io", "events"),
    }


def test_namespaced_updates_are_limited_to_the_operators_own_objects() -> None:
    objects = m.render(m.ExtensionConfig())
    role = _find(objects, "Role", m.EXTENSION_NAME)
    for rule in role["rules"]:
        if set(rule["verbs"]) & {"get", "update", "patch"}:
            assert rule["resourceNames"], rule
    named = {name for rule in role["rules"] for name in rule.get("resourceNames", [])}
    assert named == {m.HEARTBEAT_LEASE_NAME, m.STATUS_CONFIG_MAP_NAME, m.CONFIG_MAP_NAME}


def test_bindings_grant_the_roles_to_the_operator_service_account_only() -> None:
    objects = m.render(m.ExtensionConfig(namespace="ml-ext"))
    bindings = [o for o in objects if o["kind"] in ("ClusterRoleBinding", "RoleBinding")]

    assert len(bindings) == 3
    for binding in bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "tether-extension", "namespace": "ml-ext"}]


def test_instance_type_crd_is_cluster_scoped_amlarc_v1alpha1() -> None:
    crd = extension_crds.instance_type_crd()

    assert crd["metadata"]["name"] == "instancetypes.amlarc.azureml.com"
    assert crd["spec"]["scope"] == "Cluster"
    assert crd["spec"]["group"] == "amlarc.azureml.com"
    assert crd["spec"]["names"]["kind"] == "InstanceType"
    [version] = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1"
    resources = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["resources"]
    assert resources["required"] == ["requests", "limits"]
    assert resources["properties"]["requests"]["required"] == ["cpu", "memory"]
    assert resources["properties"]["limits"]["properties"]["nvidia.com/gpu"]["type"] == "integer"


def test_tether_job_crd_is_namespaced_with_a_status_subresource() -> None:
    crd = extension_crds.tether_job_crd()

    assert crd["metadata"]["name"] == "tetherjobs.tether.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    [version] = crd["spec"]["versions"]
    assert version["name"] == "v1"
    assert version["subresources"] == {"status": {}}
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["required"]) == {"jobName", "command", "image", "computeName", "workspaceId"}
    assert spec["properties"]["instanceCount"]["minimum"] == 1
    assert spec["properties"]["instanceType"]["default"] == "defaultinstancetype"


@pytest.mark.parametrize(
    ("full_type", "field", "name"),
    [
        (rt.COMPUTES, "computeName", "c1"),
        (rt.COMPUTES, "computeName", "cpu-Cluster"),
        (rt.COMPUTES, "computeName", "1c"),
        (rt.COMPUTES, "computeName", "c-"),
        (rt.COMPUTES, "computeName", "c" * 17),
        (rt.JOBS, "jobName", "0_job-A"),
        (rt.JOBS, "jobName", "-j"),
        (rt.JOBS, "jobName", "j" * 256),
    ],
)
def test_tether_job_name_patterns_agree_with_the_domain_rules(full_type: str, field: str, name: str) -> None:
    [version] = extension_crds.tether_job_crd()["spec"]["versions"]
    pattern = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][field]["pattern"]
    try:
        validate_name(full_type, name)
        domain_accepts = True
    except InvalidRequest:
        domain_accepts = False

    assert bool(re.search(pattern, name)) == domain_accepts


def test_deploy_yaml_is_up_to_date() -> None:
    assert DEPLOY_YAML.read_text() == m.render_yaml(), f"regenerate it with: {m.REGENERATE_DEPLOY_YAML}"


def test_built_in_default_instance_type_matches_the_reference() -> None:
    assert BUILT_IN_DEFAULT.to_arm() == {
        "nodeSelector": None,
        "resources": {"requests": {"cpu": "100m", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    }


def test_a_custom_resource_named_defaultinstancetype_overrides_the_built_in() -> None:
    gpu = InstanceTypeInfo.from_arm(
        "gpu",
        {
            "resources": {
                "requests": {"cpu": 1, "memory": "8Gi"},
                "limits": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": 1},
            }
        },
    )
    override = InstanceTypeInfo.from_arm(
        "defaultinstancetype",
        {
            "nodeSelector": {"pool": "cpu"},
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        },
    )

    assert merge_instance_types([gpu]) == [BUILT_IN_DEFAULT, gpu]
    merged = merge_instance_types([gpu, override])
    assert merged == [override, gpu]
    assert not merged[0].built_in
    assert gpu.to_arm()["resources"]["limits"] == {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": 1}
    assert gpu.requests == {"cpu": "1", "memory": "8Gi"}


def test_gpus_in_requests_are_refused_when_parsing() -> None:
    with pytest.raises(ValueError, match="limits only"):
        InstanceTypeInfo.from_arm(
            "x",
            {
                "resources": {
                    "requests": {"cpu": 1, "memory": "1Gi", "nvidia.com/gpu": 1},
                    "limits": {"cpu": 1, "memory": "1Gi"},
                }
            },
        )


def test_status_report_round_trips_through_config_map_data() -> None:
    gpu = InstanceTypeInfo("gpu", {"cpu": "1", "memory": "8Gi"}, {"cpu": "4", "memory": "8Gi"}, gpus=1)
    report = StatusReport(
        version="0.1.0",
        observed_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        checks=(ExtensionCheck("crds", True, "ok"), ExtensionCheck("nodes", False, "none Ready")),
        training_enabled=True,
        inference_enabled=False,
        nodes=NodeSummary(count=3, ready=0, gpu_nodes=1, gpus=1),
        instance_types=(BUILT_IN_DEFAULT, gpu),
    )

    data = report.to_data()

    assert data["observedAt"] == "2025-01-02T03:04:05Z"
    assert data["healthy"] == "false"
    assert data["trainingEnabled"] == "true"
    assert json.loads(data["instanceTypes"])["gpu"]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert json.loads(data["instanceTypeSources"]) == {"defaultinstancetype": "built-in", "gpu": "custom-resource"}
    assert all(isinstance(v, str) for v in data.values())
    assert StatusReport.from_data(data) == report


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0 s"), (45, "45 s"), (130, "2 min"), (3 * 3600, "3 h")])
def test_ages_read_naturally(seconds: float, text: str) -> None:
    assert describe_age(seconds) == text


def test_cli_needs_exactly_one_credential_source(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    runner = CliRunner()

    neither = runner.invoke(extension, [])
    both = runner.invoke(extension, ["--kubeconfig", str(kubeconfig), "--in-cluster"])

    assert neither.exit_code == 2
    assert "exactly one of --kubeconfig FILE or --in-cluster" in neither.output
    assert both.exit_code == 2
