"""Naming rules: each resource type accepts exactly its rule's names and states the rule when refusing."""

from __future__ import annotations

import pytest

from tether.domain import resource_types as rt
from tether.domain.names import validate_kubernetes_namespace, validate_name
from tether.errors import InvalidRequest

VALID = [
    pytest.param(rt.RESOURCE_GROUPS, "r", id="group-1-char"),
    pytest.param(rt.RESOURCE_GROUPS, "g" * 90, id="group-90-chars"),
    pytest.param(rt.RESOURCE_GROUPS, "My_Group-(1).x", id="group-all-punctuation"),
    pytest.param(rt.RESOURCE_GROUPS, "rg.1)", id="group-dot-inside"),
    pytest.param(rt.WORKSPACES, "abc", id="workspace-3-chars"),
    pytest.param(rt.WORKSPACES, "w" * 33, id="workspace-33-chars"),
    pytest.param(rt.WORKSPACES, "1ws_a-B", id="workspace-digit-first"),
    pytest.param(rt.COMPUTES, "c1", id="compute-2-chars"),
    pytest.param(rt.COMPUTES, "c" * 16, id="compute-16-chars"),
    pytest.param(rt.COMPUTES, "cpu-Cluster", id="compute-dash"),
    pytest.param(rt.JOBS, "j", id="job-1-char"),
    pytest.param(rt.JOBS, "j" * 255, id="job-255-chars"),
    pytest.param(rt.JOBS, "0_job-A", id="job-digit-first"),
    pytest.param(rt.MANAGED_CLUSTERS, "c", id="cluster-1-char"),
    pytest.param(rt.MANAGED_CLUSTERS, "c" * 63, id="cluster-63-chars"),
    pytest.param(rt.MANAGED_CLUSTERS, "a_b-C", id="cluster-underscore"),
    pytest.param(rt.CONNECTED_CLUSTERS, "arc-1", id="connected-cluster"),
    pytest.param(rt.EXTENSIONS, "ml", id="extension"),
    pytest.param(rt.EXTENSIONS, "azureml.ext-1", id="extension-dot-dash"),
    pytest.param(rt.EXTENSIONS, "e" * 253, id="extension-253-chars"),
    pytest.param(rt.USER_ASSIGNED_IDENTITIES, "id1", id="identity-3-chars"),
    pytest.param(rt.USER_ASSIGNED_IDENTITIES, "i" * 128, id="identity-128-chars"),
]

INVALID = [
    pytest.param(rt.RESOURCE_GROUPS, "", "1-90 characters", id="group-empty"),
    pytest.param(rt.RESOURCE_GROUPS, "rg.", "not ending with '.'", id="group-trailing-dot"),
    pytest.param(rt.RESOURCE_GROUPS, "g" * 91, "1-90 characters", id="group-91-chars"),
    pytest.param(rt.RESOURCE_GROUPS, "rg!", "1-90 characters", id="group-exclamation"),
    pytest.param(rt.RESOURCE_GROUPS, "a b", "1-90 characters", id="group-space"),
    pytest.param(rt.RESOURCE_GROUPS, "rg1\n", "1-90 characters", id="group-trailing-newline"),
    pytest.param(rt.WORKSPACES, "a", "3-33 characters", id="workspace-1-char"),
    pytest.param(rt.WORKSPACES, "ab", "3-33 characters", id="workspace-2-chars"),
    pytest.param(rt.WORKSPACES, "-bad", "starting with a letter or digit", id="workspace-leading-dash"),
    pytest.param(rt.WORKSPACES, "_bad", "starting with a letter or digit", id="workspace-leading-underscore"),
    pytest.param(rt.WORKSPACES, "w" * 34, "3-33 characters", id="workspace-34-chars"),
    pytest.param(rt.WORKSPACES, "w" * 40, "3-33 characters", id="workspace-40-chars"),
    pytest.param(rt.WORKSPACES, "ws.1", "letters, digits, '_' and '-'", id="workspace-dot"),
    pytest.param(rt.WORKSPACES, "ws1\n", "3-33 characters", id="workspace-trailing-newline"),
    pytest.param(rt.COMPUTES, "c", "2-16 characters", id="compute-1-char"),
    pytest.param(rt.COMPUTES, "1c", "starting with a letter", id="compute-digit-first"),
    pytest.param(rt.COMPUTES, "c-", "not ending with '-'", id="compute-trailing-dash"),
    pytest.param(rt.COMPUTES, "c" * 17, "2-16 characters", id="compute-17-chars"),
    pytest.param(rt.COMPUTES, "c_1", "letters, digits and '-'", id="compute-underscore"),
    pytest.param(rt.JOBS, "", "1-255 characters", id="job-empty"),
    pytest.param(rt.JOBS, "-j", "starting with a letter or digit", id="job-leading-dash"),
    pytest.param(rt.JOBS, "j" * 256, "1-255 characters", id="job-256-chars"),
    pytest.param(rt.MANAGED_CLUSTERS, "-c", "starting and ending with a letter or digit", id="cluster-leading-dash"),
    pytest.param(
        rt.MANAGED_CLUSTERS, "c_", "starting and ending with a letter or digit", id="cluster-trailing-underscore"
    ),
    pytest.param(rt.MANAGED_CLUSTERS, "c" * 64, "1-63 characters", id="cluster-64-chars"),
    pytest.param(rt.CONNECTED_CLUSTERS, "arc.1", "1-63 characters", id="connected-cluster-dot"),
    pytest.param(rt.EXTENSIONS, "ML", "lower-case", id="extension-upper-case"),
    pytest.param(rt.EXTENSIONS, "-ml", "starting and ending with a letter or digit", id="extension-leading-dash"),
    pytest.param(rt.EXTENSIONS, "ml.", "starting and ending with a letter or digit", id="extension-trailing-dot"),
    pytest.param(rt.EXTENSIONS, "e" * 254, "1-253", id="extension-254-chars"),
    pytest.param(rt.USER_ASSIGNED_IDENTITIES, "id", "3-128 characters", id="identity-2-chars"),
    pytest.param(rt.USER_ASSIGNED_IDENTITIES, "-id", "starting with a letter or digit", id="identity-leading-dash"),
    pytest.param(rt.USER_ASSIGNED_IDENTITIES, "i" * 129, "3-128 characters", id="identity-129-chars"),
]


@pytest.mark.parametrize(("full_type", "name"), VALID)
def test_a_name_that_follows_its_rule_is_returned(full_type: str, name: str) -> None:
    assert validate_name(full_type, name) == name


@pytest.mark.parametrize(("full_type", "name", "rule"), INVALID)
def test_a_name_that_breaks_its_rule_is_invalid_resource_name_stating_the_rule(
    full_type: str, name: str, rule: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_name(full_type, name)

    kind = full_type.rsplit("/", 1)[-1]
    assert caught.value.code == "InvalidResourceName"
    assert caught.value.target == "name"
    assert caught.value.message.startswith(f"'{name}' is not a valid name for {kind}: use ")
    assert rule in caught.value.message


@pytest.mark.parametrize("full_type", ["Microsoft.Foo/bars", rt.ROLE_ASSIGNMENTS, rt.RELAY_NAMESPACES])
def test_a_type_without_a_rule_accepts_any_name(full_type: str) -> None:
    assert validate_name(full_type, "Any name! at_all.") == "Any name! at_all."


# --- Kubernetes namespaces (RFC 1123 labels) ------------------------------------------------


@pytest.mark.parametrize(
    "namespace",
    ["azureml", "a", "0", "a-b", "team-1-ml", "n" * 63],
    ids=["azureml", "one-letter", "one-digit", "dash", "digits-and-dashes", "63-chars"],
)
def test_an_rfc_1123_label_is_a_valid_namespace(namespace: str) -> None:
    assert validate_kubernetes_namespace(namespace) == namespace


@pytest.mark.parametrize(
    "namespace",
    ["", "Azureml", "-ml", "ml-", "a_b", "a.b", "a b", "n" * 64, "azureml\n", "caf\u00e9"],
    ids=[
        "empty",
        "upper-case",
        "leading-dash",
        "trailing-dash",
        "underscore",
        "dot",
        "space",
        "64-chars",
        "trailing-newline",
        "non-ascii",
    ],
)
def test_anything_else_is_invalid_namespace_stating_rfc_1123(namespace: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_kubernetes_namespace(namespace)

    assert caught.value.code == "InvalidNamespace"
    assert caught.value.target == "properties.properties.namespace"
    assert caught.value.message.startswith(f"'{namespace}' is not a valid Kubernetes namespace")
    assert "RFC 1123" in caught.value.message
    assert "at most 63 lower-case letters, digits and '-'" in caught.value.message
