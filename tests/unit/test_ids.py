"""ARM resource ids: parsed case-insensitively, printed canonically, refused with a reason when malformed."""

from __future__ import annotations

import pytest

from tether.domain import resource_types as rt
from tether.domain.ids import SUBSCRIPTIONS, ResourceId, parse_path, parse_resource_id, parse_typed_id
from tether.errors import InvalidRequest

SUB = "00000000-0000-0000-0000-00000000000a"
SUBSCRIPTION = f"/subscriptions/{SUB}"
GROUP = f"{SUBSCRIPTION}/resourceGroups/rg1"
CLUSTER = f"{GROUP}/providers/Microsoft.ContainerService/managedClusters/c1"
EXTENSION = f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/ml"
WORKSPACE = f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/ws1"
COMPUTE = f"{WORKSPACE}/computes/k8s"
IDENTITY = f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"


# --- what an id is --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "full_type", "name", "parent"),
    [
        pytest.param(SUBSCRIPTION, SUBSCRIPTIONS, SUB, None, id="subscription"),
        pytest.param(GROUP, rt.RESOURCE_GROUPS, "rg1", SUBSCRIPTION, id="group"),
        pytest.param(CLUSTER, rt.MANAGED_CLUSTERS, "c1", GROUP, id="cluster"),
        pytest.param(WORKSPACE, rt.WORKSPACES, "ws1", GROUP, id="workspace"),
        pytest.param(COMPUTE, rt.COMPUTES, "k8s", WORKSPACE, id="child-resource"),
        pytest.param(EXTENSION, rt.EXTENSIONS, "ml", CLUSTER, id="extension-resource"),
    ],
)
def test_a_parsed_id_knows_its_type_name_and_parent(text: str, full_type: str, name: str, parent: str | None) -> None:
    resource_id = parse_resource_id(text)

    assert resource_id.full_type == full_type
    assert resource_id.name == name
    assert str(resource_id) == text
    assert (str(resource_id.parent) if resource_id.parent else None) == parent


def test_a_subscription_level_resource_has_no_group() -> None:
    resource_id = parse_resource_id(f"{SUBSCRIPTION}/providers/Microsoft.MachineLearningServices/workspaces/ws1")

    assert resource_id.resource_group is None
    assert resource_id.full_type == rt.WORKSPACES
    assert str(resource_id.parent) == SUBSCRIPTION


def test_the_seeds_lower_case_types_are_canonicalized() -> None:
    seed = f"/subscriptions/{SUB}/resourcegroups/rg1/providers/microsoft.containerservice/managedclusters/c1"

    resource_id = parse_resource_id(seed)

    assert str(resource_id) == CLUSTER
    assert resource_id.full_type == "Microsoft.ContainerService/managedClusters"
    assert resource_id.namespace == "Microsoft.ContainerService"


def test_shouted_types_of_a_child_are_canonicalized_and_names_keep_their_case() -> None:
    shouted = f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/Rg1/PROVIDERS/MICROSOFT.MACHINELEARNINGSERVICES"
    shouted += "/WORKSPACES/Ws1/COMPUTES/K8s"

    resource_id = parse_resource_id(shouted)

    assert (
        str(resource_id)
        == f"{SUBSCRIPTION}/resourceGroups/Rg1/providers/Microsoft.MachineLearningServices/workspaces/Ws1/computes/K8s"
    )
    assert resource_id.name == "K8s"
    assert resource_id.resource_group == "Rg1"


def test_an_identity_id_without_leading_slash_parses_as_the_seed_writes_it() -> None:
    seed = f"subscriptions/{SUB}/resourcegroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"

    resource_id = parse_resource_id(seed)

    assert str(resource_id) == IDENTITY
    assert resource_id.full_type == rt.USER_ASSIGNED_IDENTITIES


def test_a_trailing_slash_is_ignored() -> None:
    assert parse_resource_id(GROUP + "/") == parse_resource_id(GROUP)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"{GROUP}/providers/microsoft.foo/Bars/b1",
            f"{GROUP}/providers/microsoft.foo/Bars/b1",
            id="unknown-namespace",
        ),
        pytest.param(
            f"{GROUP}/providers/microsoft.machinelearningservices/NotATypes/x",
            f"{GROUP}/providers/Microsoft.MachineLearningServices/NotATypes/x",
            id="unknown-type-in-known-namespace",
        ),
    ],
)
def test_an_unknown_type_parses_with_its_spelling_and_only_a_known_namespace_is_canonicalized(
    text: str, expected: str
) -> None:
    assert str(parse_resource_id(text)) == expected


# --- extension resources and scopes -------------------------------------------------------


def test_an_extension_resource_hangs_from_the_resource_it_extends() -> None:
    extension = parse_resource_id(EXTENSION)

    assert extension.parent == parse_resource_id(CLUSTER)
    assert [str(s) for s in extension.scopes()] == [SUBSCRIPTION, GROUP, CLUSTER, EXTENSION]
    assert [s.full_type for s in extension.scopes()] == [
        SUBSCRIPTIONS,
        rt.RESOURCE_GROUPS,
        rt.MANAGED_CLUSTERS,
        rt.EXTENSIONS,
    ]


def test_the_seeds_lower_case_extension_id_canonicalizes_both_provider_segments() -> None:
    seed = EXTENSION.lower()

    assert str(parse_resource_id(seed)) == EXTENSION
    assert parse_resource_id(seed).full_type == rt.EXTENSIONS


def test_a_child_resource_scopes_run_through_its_parent() -> None:
    assert [str(s) for s in parse_resource_id(COMPUTE).scopes()] == [SUBSCRIPTION, GROUP, WORKSPACE, COMPUTE]


def test_building_an_id_gives_the_same_id_as_parsing_it() -> None:
    group = ResourceId.group(SUB, "rg1")
    cluster = ResourceId.resource(SUB, "rg1", rt.MANAGED_CLUSTERS, "c1")

    assert group == parse_resource_id(GROUP)
    assert ResourceId.subscription(SUB) == parse_resource_id(SUBSCRIPTION)
    assert cluster == parse_resource_id(CLUSTER)
    assert cluster.extension("Microsoft.KubernetesConfiguration", "extensions", "ml") == parse_resource_id(EXTENSION)
    assert parse_resource_id(WORKSPACE).child("computes", "k8s") == parse_resource_id(COMPUTE)
    assert ResourceId.resource(SUB, "rg1", rt.COMPUTES, "ws1", "k8s") == parse_resource_id(COMPUTE)


def test_building_a_resource_id_with_the_wrong_number_of_names_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="needs 2 names, got 1"):
        ResourceId.resource(SUB, "rg1", rt.COMPUTES, "ws1")


def test_a_group_has_no_provider_segment_to_add_a_child_to() -> None:
    with pytest.raises(ValueError, match="no provider segment"):
        parse_resource_id(GROUP).child("computes", "c1")


@pytest.mark.parametrize(
    ("inner", "outer"),
    [
        pytest.param(EXTENSION, CLUSTER, id="extension-in-cluster"),
        pytest.param(EXTENSION, GROUP, id="extension-in-group"),
        pytest.param(EXTENSION, SUBSCRIPTION, id="extension-in-subscription"),
        pytest.param(EXTENSION, EXTENSION, id="itself"),
        pytest.param(COMPUTE, WORKSPACE, id="child-in-parent"),
        pytest.param(WORKSPACE, GROUP.upper().replace("SUBSCRIPTIONS", "subscriptions"), id="case-insensitive"),
    ],
)
def test_is_within_holds_for_the_id_and_its_ancestors(inner: str, outer: str) -> None:
    assert parse_resource_id(inner).is_within(parse_resource_id(outer))


@pytest.mark.parametrize(
    ("inner", "outer"),
    [
        pytest.param(CLUSTER, EXTENSION, id="cluster-in-its-extension"),
        pytest.param(GROUP.replace("rg1", "rg10"), GROUP, id="group-sharing-a-name-prefix"),
        pytest.param(WORKSPACE.replace("ws1", "ws10") + "/computes/k8s", WORKSPACE, id="child-of-prefix-sibling"),
        pytest.param(GROUP, GROUP.replace(SUB, "00000000-0000-0000-0000-00000000000b"), id="other-subscription"),
    ],
)
def test_is_within_does_not_hold_for_siblings_descendants_or_prefixes(inner: str, outer: str) -> None:
    assert not parse_resource_id(inner).is_within(parse_resource_id(outer))


def test_key_is_the_same_for_any_spelling_of_an_id() -> None:
    spellings = [CLUSTER, CLUSTER.lower(), CLUSTER.upper().replace("SUBSCRIPTIONS", "subscriptions"), CLUSTER[1:]]

    keys = {parse_resource_id(s).key for s in spellings}

    assert keys == {CLUSTER.lower()}


# --- collection paths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scope", "collection"),
    [
        pytest.param(f"{SUBSCRIPTION}/resourceGroups", SUBSCRIPTION, rt.RESOURCE_GROUPS, id="groups"),
        pytest.param(f"{SUBSCRIPTION}/resourcegroups/", SUBSCRIPTION, rt.RESOURCE_GROUPS, id="groups-trailing-slash"),
        pytest.param(
            f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces", GROUP, rt.WORKSPACES, id="workspaces"
        ),
        pytest.param(
            f"{SUBSCRIPTION}/providers/microsoft.machinelearningservices/WORKSPACES",
            SUBSCRIPTION,
            rt.WORKSPACES,
            id="workspaces-of-subscription",
        ),
        pytest.param(f"{WORKSPACE}/computes", WORKSPACE, rt.COMPUTES, id="children"),
        pytest.param(
            f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions", CLUSTER, rt.EXTENSIONS, id="extensions"
        ),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo/bars", GROUP, "Microsoft.Foo/bars", id="unknown-type-as-given"),
    ],
)
def test_a_path_ending_in_a_type_is_a_collection_under_its_scope(text: str, scope: str, collection: str) -> None:
    path = parse_path(text)

    assert path.collection_type == collection
    assert str(path.scope) == scope
    with pytest.raises(ValueError, match="collection"):
        _ = path.resource_id


def test_a_path_ending_in_a_name_is_a_single_resource() -> None:
    path = parse_path(COMPUTE)

    assert path.collection_type is None
    assert path.resource_id == parse_resource_id(COMPUTE)


def test_a_collection_is_not_a_resource_id() -> None:
    with pytest.raises(InvalidRequest, match="ends with the type 'workspaces' but no name") as caught:
        parse_resource_id(f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces")

    assert caught.value.code == "InvalidResourceId"


# --- malformed ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("/", "must start with /subscriptions/", id="root"),
        pytest.param("/subscriptions", "must start with /subscriptions/<subscription id>", id="no-subscription-id"),
        pytest.param(f"/tenants/{SUB}", "must start with /subscriptions/", id="not-subscriptions"),
        pytest.param(
            "/subscriptions/not-a-guid", "subscription 'not-a-guid' is not a GUID", id="subscription-not-guid"
        ),
        pytest.param(f"/subscriptions/{SUB}x", "is not a GUID", id="subscription-guid-plus-char"),
        pytest.param(f"{SUBSCRIPTION}/resourceGroups//x", "empty segment ('//')", id="double-slash"),
        pytest.param(f"/{SUBSCRIPTION}", "empty segment ('//')", id="leading-double-slash"),
        pytest.param(f"{SUBSCRIPTION}/resourceGroups/a b", "resource group 'a b'", id="group-with-space"),
        pytest.param(f"{GROUP}/providers", "'providers' must be followed by a namespace", id="providers-alone"),
        pytest.param(f"{GROUP}/providers/Foo/bars/b", "'providers' must be followed by a namespace", id="no-dot"),
        pytest.param(f"{GROUP}/providers/1Foo.Bar/bars/b", "must be followed by a namespace", id="digit-namespace"),
        pytest.param(
            f"{GROUP}/providers/Microsoft.Foo", "Microsoft.Foo is not followed by a type", id="namespace-only"
        ),
        pytest.param(f"{CLUSTER}/providers", "'providers' must be followed by a namespace", id="extension-no-ns"),
        pytest.param(f"{GROUP}/things/x", "expected 'providers' where 'things' is", id="not-providers"),
        pytest.param(f"{SUBSCRIPTION}/rg1", "expected 'providers' where 'rg1' is", id="group-without-keyword"),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo/bars/a b", "bars name 'a b'", id="name-with-space"),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo/bars/a%b", "bars name 'a%b'", id="name-with-percent"),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo/bars/a#b", "bars name 'a#b'", id="name-with-hash"),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo/bars/a?b", "bars name 'a?b'", id="name-with-question-mark"),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo/bars/a\\b", "bars name 'a\\b'", id="name-with-backslash"),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo/bars/" + "n" * 261, "too long", id="name-261-chars"),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo/b%rs/x", "type 'b%rs'", id="type-with-percent"),
    ],
)
def test_a_malformed_id_is_invalid_resource_id_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_resource_id(text)

    assert caught.value.code == "InvalidResourceId"
    assert problem in caught.value.message
    assert "Expected the form /subscriptions/<subscription>/resourceGroups/<group>" in caught.value.message


@pytest.mark.parametrize("text", ["", "   ", "\t\n"], ids=["empty", "spaces", "tab-newline"])
def test_an_empty_path_is_invalid_resource_id(text: str) -> None:
    with pytest.raises(InvalidRequest, match="it is empty") as caught:
        parse_path(text)

    assert caught.value.code == "InvalidResourceId"


@pytest.mark.parametrize(
    "text",
    [GROUP + " ", GROUP + "\t", GROUP + "\n", f"{GROUP} /providers/Microsoft.Foo/bars/x", WORKSPACE + "\n"],
    ids=["group-space", "group-tab", "group-newline", "group-space-inside", "workspace-newline"],
)
def test_a_name_with_trailing_whitespace_is_refused_not_trimmed(text: str) -> None:
    with pytest.raises(InvalidRequest, match="contains whitespace") as caught:
        parse_path(text)

    assert caught.value.code == "InvalidResourceId"


def test_a_name_of_260_characters_is_accepted() -> None:
    assert parse_resource_id(f"{GROUP}/providers/Microsoft.Foo/bars/" + "n" * 260).name == "n" * 260


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(f"/subscriptions/{SUB}\n/resourceGroups/rg1", "is not a GUID", id="subscription"),
        pytest.param(f"{SUBSCRIPTION}/resourceGroups/rg1\n/providers/Microsoft.Foo/bars/x", "whitespace", id="group"),
        pytest.param(f"{GROUP}/providers/Microsoft.Foo\n/bars/x", "namespace", id="namespace"),
    ],
)
def test_a_segment_ending_in_a_newline_is_refused(text: str, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        parse_path(text)


# --- typed ids --------------------------------------------------------------------------------


def test_a_typed_id_of_an_expected_type_parses_whatever_the_case_of_the_expectation() -> None:
    resource_id = parse_typed_id(IDENTITY, expected_types=(rt.USER_ASSIGNED_IDENTITIES.lower(),), what="identity")

    assert str(resource_id) == IDENTITY


def test_a_typed_id_of_another_type_names_both_types() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_typed_id(CLUSTER, expected_types=(rt.USER_ASSIGNED_IDENTITIES,), what="primaryUserAssignedIdentity")

    assert caught.value.code == "InvalidResourceId"
    assert caught.value.message == (
        f"primaryUserAssignedIdentity '{CLUSTER}' is a Microsoft.ContainerService/managedClusters, "
        "but a Microsoft.ManagedIdentity/userAssignedIdentities id is required."
    )


def test_a_typed_id_with_several_expected_types_lists_them_all() -> None:
    with pytest.raises(InvalidRequest, match=r"a Microsoft\.ContainerService/managedClusters or Microsoft\.Kubernetes"):
        parse_typed_id(WORKSPACE, expected_types=(rt.MANAGED_CLUSTERS, rt.CONNECTED_CLUSTERS), what="resourceId")


def test_a_typed_id_that_is_malformed_is_invalid_resource_id() -> None:
    with pytest.raises(InvalidRequest, match="is not a GUID") as caught:
        parse_typed_id("/subscriptions/x/resourceGroups/rg1", expected_types=(rt.RESOURCE_GROUPS,), what="scope")

    assert caught.value.code == "InvalidResourceId"
