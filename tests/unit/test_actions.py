"""The RBAC action of a request: ``<full type>/<read|write|delete>``, or ``<full type>/<name>/action`` for a POST."""

from __future__ import annotations

import pytest

from tether.domain import resource_types as rt
from tether.domain.actions import action_for


@pytest.mark.parametrize(
    ("full_type", "method", "action"),
    [
        (rt.WORKSPACES, "GET", "Microsoft.MachineLearningServices/workspaces/read"),
        (rt.WORKSPACES, "HEAD", "Microsoft.MachineLearningServices/workspaces/read"),
        (rt.WORKSPACES, "PUT", "Microsoft.MachineLearningServices/workspaces/write"),
        (rt.WORKSPACES, "PATCH", "Microsoft.MachineLearningServices/workspaces/write"),
        (rt.WORKSPACES, "DELETE", "Microsoft.MachineLearningServices/workspaces/delete"),
        (rt.COMPUTES, "PUT", "Microsoft.MachineLearningServices/workspaces/computes/write"),
        (rt.RESOURCE_GROUPS, "DELETE", "Microsoft.Resources/subscriptions/resourceGroups/delete"),
        (rt.EXTENSIONS, "GET", "Microsoft.KubernetesConfiguration/extensions/read"),
        (rt.ROLE_ASSIGNMENTS, "PUT", "Microsoft.Authorization/roleAssignments/write"),
    ],
)
def test_each_method_maps_to_its_verb_on_the_full_type(full_type: str, method: str, action: str) -> None:
    assert action_for(full_type, method) == action


@pytest.mark.parametrize("method", ["get", "Put", "delete"])
def test_the_method_is_case_insensitive(method: str) -> None:
    assert action_for(rt.WORKSPACES, method) == action_for(rt.WORKSPACES, method.upper())


@pytest.mark.parametrize("method", ["POST", "post"])
def test_a_post_names_its_action(method: str) -> None:
    assert action_for(rt.WORKSPACES, method, action="listKeys") == (
        "Microsoft.MachineLearningServices/workspaces/listKeys/action"
    )
    assert action_for(rt.MANAGED_CLUSTERS, method, action="listClusterUserCredential") == (
        "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action"
    )


@pytest.mark.parametrize("action", [None, ""], ids=["none", "empty"])
def test_a_post_without_an_action_name_is_a_value_error(action: str | None) -> None:
    with pytest.raises(ValueError, match="POST request needs an action name"):
        action_for(rt.WORKSPACES, "POST", action=action)
