"""Bad input over the ARM API: every mistake answers a precise ARM error and changes nothing.

Each test arranges a known state, sends one bad request, asserts the status, the ``error.code`` and a
message that names what was wrong, then reads the state back to prove that nothing was created or changed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from tests.integration.helpers import API, create_group, create_workspace, rg_path, ws_path
from tether.testing.server import InProcessServer

GROUP_BODY = {"location": "westeurope"}
WORKSPACES = "/providers/Microsoft.MachineLearningServices/workspaces"
LIMIT = 1_048_576  # settings.api.max_body_bytes by default


def assert_arm_error(response: httpx2.Response, status: int, code: str, *fragments: str) -> dict[str, Any]:
    """The response is an ARM error of ``status`` and ``code`` whose message contains every fragment."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    for fragment in fragments:
        assert fragment in error["message"], error
    return error


async def group_names(client: httpx2.AsyncClient, subscription: str) -> list[str]:
    response = await client.get(f"{subscription}/resourceGroups", params=API)
    assert response.status_code == 200, response.text
    return sorted(g["name"] for g in response.json()["value"])


async def workspace_names(client: httpx2.AsyncClient, subscription: str) -> list[str]:
    response = await client.get(subscription + WORKSPACES, params=API)
    assert response.status_code == 200, response.text
    return sorted(w["name"] for w in response.json()["value"])


async def assert_group_missing(client: httpx2.AsyncClient, subscription: str, name: str) -> None:
    response = await client.get(rg_path(subscription, name), params=API)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"


# --- malformed resource ids -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        pytest.param(
            "/subscriptions/not-a-guid/resourceGroups/rg2",
            "subscription 'not-a-guid' is not a GUID",
            id="subscription-not-a-guid",
        ),
        pytest.param("{sub}/resourceGroups//rg2", "empty segment ('//')", id="group-empty-segment"),
        pytest.param(
            "{sub}/resourceGroups/rg1/providers",
            "'providers' must be followed by a namespace",
            id="providers-without-namespace",
        ),
        pytest.param(
            "{sub}/resourceGroups/rg1/providers/workspaces/ws1",
            "'providers' must be followed by a namespace",
            id="namespace-without-dot",
        ),
        pytest.param(
            "{sub}/resourceGroups/rg1/providers/Microsoft.MachineLearningServices",
            "is not followed by a type and a name",
            id="namespace-without-type",
        ),
        pytest.param(
            "{sub}/resourceGroups/rg1/things/ws1",
            "expected 'providers' where 'things' is",
            id="segment-instead-of-providers",
        ),
        pytest.param(
            "{sub}/resourceGroups/rg1" + WORKSPACES + "/my ws",
            "'my ws' is empty, too long or contains whitespace",
            id="name-with-space",
        ),
        pytest.param(
            "{sub}/resourceGroups/rg1" + WORKSPACES + "/my%25ws",
            "'my%ws' is empty, too long or contains whitespace",
            id="name-with-percent",
        ),
        pytest.param("{sub}/resourceGroups/my rg", "resource group 'my rg'", id="group-with-space"),
        pytest.param(
            "{sub}/resourceGroups",
            "ends with the collection 'resourceGroups' and no name",
            id="put-on-group-collection",
        ),
        pytest.param(
            "{sub}/resourceGroups/rg1" + WORKSPACES,
            "ends with the collection 'workspaces' and no name",
            id="put-on-workspace-collection",
        ),
    ],
)
async def test_put_on_a_malformed_id_is_invalid_resource_id_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, path: str, problem: str
) -> None:
    await create_group(client, server.subscription, "rg1")

    response = await client.put(path.format(sub=server.subscription), params=API, json=GROUP_BODY)

    assert_arm_error(response, 400, "InvalidResourceId", problem)
    assert await group_names(client, server.subscription) == ["rg1"]
    assert await workspace_names(client, server.subscription) == []


async def test_delete_on_a_malformed_id_is_invalid_resource_id_and_deletes_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")

    response = await client.delete(f"{server.subscription}/resourceGroups//rg1", params=API)

    assert_arm_error(response, 400, "InvalidResourceId", "empty segment")
    assert await group_names(client, server.subscription) == ["rg1"]


TRAILING_WHITESPACE = [
    pytest.param("%20", id="space"),
    pytest.param("%09", id="tab"),
    pytest.param("%0A", id="newline"),  # Starlette's route pattern alone would drop it
]


@pytest.mark.parametrize("suffix", TRAILING_WHITESPACE)
async def test_a_name_with_trailing_whitespace_is_refused_not_trimmed(
    server: InProcessServer, client: httpx2.AsyncClient, suffix: str
) -> None:
    response = await client.put(rg_path(server.subscription, "rg2" + suffix), params=API, json=GROUP_BODY)

    assert_arm_error(response, 400, "InvalidResourceId", "whitespace")
    assert await group_names(client, server.subscription) == []


@pytest.mark.parametrize("suffix", TRAILING_WHITESPACE)
async def test_delete_of_a_name_with_trailing_whitespace_leaves_the_trimmed_name_alone(
    server: InProcessServer, client: httpx2.AsyncClient, suffix: str
) -> None:
    await create_group(client, server.subscription, "rg1")

    response = await client.delete(rg_path(server.subscription, "rg1" + suffix), params=API)

    assert_arm_error(response, 400, "InvalidResourceId", "whitespace")
    assert await group_names(client, server.subscription) == ["rg1"]


# --- unknown resource types -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider_path", "full_type", "namespace"),
    [
        pytest.param("Microsoft.Foo/bars/x", "Microsoft.Foo/bars", "Microsoft.Foo", id="unknown-namespace"),
        pytest.param(
            "Microsoft.MachineLearningServices/notatype/x",
            "Microsoft.MachineLearningServices/notatype",
            "Microsoft.MachineLearningServices",
            id="unknown-type-in-known-namespace",
        ),
    ],
)
async def test_an_unknown_resource_type_is_invalid_resource_type_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, provider_path: str, full_type: str, namespace: str
) -> None:
    await create_group(client, server.subscription, "rg1")
    path = f"{rg_path(server.subscription, 'rg1')}/providers/{provider_path}"

    put = await client.put(path, params=API, json={"location": "westeurope", "properties": {}})
    get = await client.get(path, params=API)
    listed = await client.get(path.rsplit("/", 1)[0], params=API)

    for response in (put, get, listed):
        error = assert_arm_error(response, 400, "InvalidResourceType", f"'{full_type}'", f"'{namespace}'")
        assert "Microsoft.MachineLearningServices/workspaces" in error["message"]  # says what is served
    assert await group_names(client, server.subscription) == ["rg1"]


# --- names that break the rules -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a", "ab", "-bad", "_bad", "w" * 34, "w" * 40, "ws.1"],
    ids=["one-char", "two-chars", "leading-dash", "leading-underscore", "34-chars", "40-chars", "dot"],
)
async def test_a_workspace_name_that_breaks_the_rule_is_refused_and_nothing_exists(
    server: InProcessServer, client: httpx2.AsyncClient, name: str
) -> None:
    await create_group(client, server.subscription, "rg1")

    response = await client.put(ws_path(server.subscription, "rg1", name), params=API, json={})

    error = assert_arm_error(response, 400, "InvalidResourceName", f"'{name}'", "3-33 characters")
    assert error["target"] == "name"
    missing = await client.get(ws_path(server.subscription, "rg1", name), params=API)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "WorkspaceNotFound"
    assert await workspace_names(client, server.subscription) == []


@pytest.mark.parametrize(
    "name", ["rg.", "g" * 91, "rg!", "rg+1"], ids=["trailing-dot", "91-chars", "exclamation", "plus"]
)
async def test_a_group_name_that_breaks_the_rule_is_refused_and_nothing_exists(
    server: InProcessServer, client: httpx2.AsyncClient, name: str
) -> None:
    response = await client.put(rg_path(server.subscription, name), params=API, json=GROUP_BODY)

    error = assert_arm_error(response, 400, "InvalidResourceName", f"'{name}'", "not ending with '.'")
    assert error["target"] == "name"
    await assert_group_missing(client, server.subscription, name)
    assert await group_names(client, server.subscription) == []


async def test_names_at_the_limits_of_the_rules_are_accepted(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    longest_group, longest_workspace = "g" * 90, "w" * 33

    await create_group(client, server.subscription, longest_group)
    await create_group(client, server.subscription, "rg.(1)_-")
    await create_workspace(client, server.subscription, longest_group, longest_workspace)
    await create_workspace(client, server.subscription, longest_group, "abc")

    assert await group_names(client, server.subscription) == sorted([longest_group, "rg.(1)_-"])
    assert await workspace_names(client, server.subscription) == sorted([longest_workspace, "abc"])


# --- api-version ----------------------------------------------------------------------------


async def test_a_missing_api_version_is_refused_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    put = await client.put(rg_path(server.subscription, "rg1"), json=GROUP_BODY)
    get = await client.get(rg_path(server.subscription, "rg1"))

    for response in (put, get):
        assert_arm_error(response, 400, "MissingApiVersionParameter", "api-version", "required")
    await assert_group_missing(client, server.subscription, "rg1")


@pytest.mark.parametrize(
    "version",
    ["banana", "", "2024-1-1", "24-10-01", "2024-10-01-final", "2024/10/01", "v2024-10-01"],
    ids=["banana", "empty", "short-fields", "two-digit-year", "unknown-suffix", "slashes", "prefix"],
)
async def test_a_malformed_api_version_is_refused_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, version: str
) -> None:
    response = await client.put(rg_path(server.subscription, "rg1"), params={"api-version": version}, json=GROUP_BODY)

    assert_arm_error(response, 400, "InvalidApiVersionParameter", f"'{version}'", "2024-10-01")
    await assert_group_missing(client, server.subscription, "rg1")


async def test_an_api_version_with_a_trailing_newline_is_refused(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    response = await client.put(
        rg_path(server.subscription, "rg1"), params={"api-version": "2024-10-01\n"}, json=GROUP_BODY
    )

    assert_arm_error(response, 400, "InvalidApiVersionParameter")
    await assert_group_missing(client, server.subscription, "rg1")


@pytest.mark.parametrize("version", ["2019-01-01", "2099-12-31-preview", "2024-10-01-beta", "2023-04-01-alpha"])
async def test_any_well_formed_api_version_is_accepted(
    server: InProcessServer, client: httpx2.AsyncClient, version: str
) -> None:
    response = await client.put(rg_path(server.subscription, "rg1"), params={"api-version": version}, json=GROUP_BODY)

    assert response.status_code == 201, response.text
    assert await group_names(client, server.subscription) == ["rg1"]


# --- request bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(b"{location: westeurope}", "not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe{", "not valid JSON", id="not-utf8"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"  \n ", "empty", id="whitespace"),
        pytest.param(b'[{"location": "westeurope"}]', "must be a JSON object", id="array"),
        pytest.param(b"null", "must be a JSON object", id="null"),
        pytest.param(b'"westeurope"', "must be a JSON object", id="string"),
    ],
)
async def test_a_group_body_that_is_not_a_json_object_is_refused_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, content: bytes, problem: str
) -> None:
    response = await client.put(
        rg_path(server.subscription, "rg1"), params=API, content=content, headers={"Content-Type": "application/json"}
    )

    assert_arm_error(response, 400, "InvalidRequestContent", problem)
    await assert_group_missing(client, server.subscription, "rg1")


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        pytest.param({"lcation": "westeurope"}, "lcation", "Extra inputs are not permitted", id="misspelt-field"),
        pytest.param({}, "location", "Field required", id="missing-location"),
        pytest.param({"location": 5}, "location", "valid string", id="location-number"),
        pytest.param({"location": ""}, "location", "at least 1 character", id="location-empty"),
        pytest.param({"location": "west/europe"}, "location", "pattern", id="location-bad-characters"),
        pytest.param({"location": "westeurope", "tags": ["a"]}, "tags", "valid dictionary", id="tags-list"),
        pytest.param({"location": "westeurope", "tags": {"a": 1}}, "tags.a", "valid string", id="tag-value-number"),
    ],
)
async def test_a_group_body_with_a_bad_field_names_the_field_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, body: dict[str, Any], field: str, problem: str
) -> None:
    response = await client.put(rg_path(server.subscription, "rg1"), params=API, json=body)

    error = assert_arm_error(response, 400, "InvalidRequestContent", f"{field}: ", problem)
    assert field in [d.get("target") for d in error["details"]]
    await assert_group_missing(client, server.subscription, "rg1")


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        pytest.param({"locaton": "westeurope"}, "locaton", "Extra inputs are not permitted", id="misspelt-field"),
        pytest.param({"tags": "team=a"}, "tags", "valid dictionary", id="tags-string"),
        pytest.param({"identity": {"typ": "SystemAssigned"}}, "identity.typ", "Extra inputs", id="identity-misspelt"),
        pytest.param({"identity": {"type": 1}}, "identity.type", "valid string", id="identity-type-number"),
        pytest.param(
            {"properties": {"friendlyName": 7}}, "properties.friendlyName", "valid string", id="friendly-name"
        ),
    ],
)
async def test_a_workspace_body_with_a_bad_field_names_the_field_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, body: dict[str, Any], field: str, problem: str
) -> None:
    await create_group(client, server.subscription, "rg1")

    response = await client.put(ws_path(server.subscription, "rg1", "ws1"), params=API, json=body)

    error = assert_arm_error(response, 400, "InvalidRequestContent", f"{field}: ", problem)
    assert field in [d.get("target") for d in error["details"]]
    assert await workspace_names(client, server.subscription) == []


@pytest.mark.parametrize("identity_type", ["Bogus", "SystemAssigned,UserAssigned", "ManagedIdentity"])
async def test_a_workspace_with_an_unknown_identity_type_is_refused_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, identity_type: str
) -> None:
    await create_group(client, server.subscription, "rg1")
    body = {"identity": {"type": identity_type}}

    response = await client.put(ws_path(server.subscription, "rg1", "ws1"), params=API, json=body)

    error = assert_arm_error(
        response, 400, "InvalidIdentityType", f"'{identity_type}'", "SystemAssigned or UserAssigned"
    )
    assert error["target"] == "identity.type"
    assert await workspace_names(client, server.subscription) == []


MISSING_IDENTITY = "{sub}/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope"


@pytest.mark.parametrize(
    ("identity", "status", "code", "fragment"),
    [
        pytest.param({"type": "None"}, 400, "InvalidIdentityType", "needs an identity", id="none"),
        pytest.param({"type": "UserAssigned"}, 400, "InvalidIdentityType", "needs the identity's id", id="no-id"),
        pytest.param(
            {"type": "UserAssigned", "userAssignedIdentities": {MISSING_IDENTITY: {}}},
            404,
            "IdentityNotFound",
            "userAssignedIdentities/nope' does not exist",
            id="missing-identity",
        ),
        pytest.param(
            {"type": "UserAssigned", "userAssignedIdentities": {"{sub}/resourceGroups/rg1": {}}},
            400,
            "InvalidResourceId",
            "not a user-assigned identity",
            id="id-of-another-type",
        ),
    ],
)
async def test_a_workspace_identity_that_cannot_be_given_is_refused_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, identity: dict[str, Any], status: int, code: str, fragment: str
) -> None:
    await create_group(client, server.subscription, "rg1")
    body = json.loads(json.dumps({"identity": identity}).replace("{sub}", server.subscription))

    response = await client.put(ws_path(server.subscription, "rg1", "ws1"), params=API, json=body)

    assert_arm_error(response, status, code, fragment)
    assert await workspace_names(client, server.subscription) == []


async def test_a_deeply_nested_body_is_invalid_content_not_a_server_error(server: InProcessServer) -> None:
    nested = b'{"location": "westeurope", "tags": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    transport = httpx2.ASGITransport(app=server.transport.app, raise_app_exceptions=False)
    token = server.token_for(server.admin())
    async with httpx2.AsyncClient(
        transport=transport, base_url="https://tether.test", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        response = await client.put(rg_path(server.subscription, "rg1"), params=API, content=nested)

        assert_arm_error(response, 400, "InvalidRequestContent")
        await assert_group_missing(client, server.subscription, "rg1")


# --- body size ------------------------------------------------------------------------------


def group_body_of_size(size: int) -> bytes:
    """A valid group body of exactly ``size`` bytes: accepted if the size limit were not enforced."""
    empty = json.dumps({"location": "westeurope", "tags": {"pad": ""}}).encode()
    body = json.dumps({"location": "westeurope", "tags": {"pad": "x" * (size - len(empty))}}).encode()
    assert len(body) == size
    return body


async def test_a_body_over_the_limit_with_content_length_is_413_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    assert server.services.settings.api.max_body_bytes == LIMIT
    body = group_body_of_size(LIMIT + 1)

    response = await client.put(rg_path(server.subscription, "rg1"), params=API, content=body)

    assert response.request.headers["Content-Length"] == str(LIMIT + 1)
    assert_arm_error(response, 413, "RequestEntityTooLarge", str(LIMIT))
    await assert_group_missing(client, server.subscription, "rg1")


async def test_a_chunked_body_over_the_limit_is_413_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    body = group_body_of_size(LIMIT + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await client.put(rg_path(server.subscription, "rg1"), params=API, content=chunks())

    assert "Content-Length" not in response.request.headers
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert_arm_error(response, 413, "RequestEntityTooLarge", str(LIMIT))
    await assert_group_missing(client, server.subscription, "rg1")


async def test_a_body_of_exactly_the_limit_is_accepted(server: InProcessServer, client: httpx2.AsyncClient) -> None:
    response = await client.put(rg_path(server.subscription, "rg1"), params=API, content=group_body_of_size(LIMIT))

    assert response.status_code == 201, response.text[:300]
    assert await group_names(client, server.subscription) == ["rg1"]


# --- state conflicts ------------------------------------------------------------------------


async def test_a_group_cannot_move_to_another_location_and_keeps_its_location_and_tags(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")

    response = await client.put(
        rg_path(server.subscription, "rg1"), params=API, json={"location": "eastus", "tags": {"team": "b"}}
    )

    assert_arm_error(response, 400, "InvalidResourceGroupLocation", "'rg1'", "'westeurope'")
    after = (await client.get(rg_path(server.subscription, "rg1"), params=API)).json()
    assert after["location"] == "westeurope"
    assert after["tags"] == {}


async def test_a_group_re_put_in_the_same_location_spelt_differently_updates_its_tags(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")

    response = await client.put(
        rg_path(server.subscription, "rg1"), params=API, json={"location": "West Europe", "tags": {"team": "b"}}
    )

    assert response.status_code == 200, response.text
    assert response.json()["tags"] == {"team": "b"}


async def test_a_workspace_cannot_move_to_another_location_and_keeps_its_location_and_tags(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")
    await create_workspace(client, server.subscription, "rg1", "ws1")

    response = await client.put(
        ws_path(server.subscription, "rg1", "ws1"), params=API, json={"location": "eastus", "tags": {"team": "b"}}
    )

    assert_arm_error(response, 400, "LocationNotAvailable", "'ws1'", "'westeurope'", "cannot move")
    after = (await client.get(ws_path(server.subscription, "rg1", "ws1"), params=API)).json()
    assert after["location"] == "westeurope"
    assert after["tags"] == {}


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_the_subscription_itself_cannot_be_written_or_deleted_through_the_api(
    server: InProcessServer, client: httpx2.AsyncClient, method: str
) -> None:
    response = await client.request(method, server.subscription, params=API, json={"displayName": "renamed"})

    assert_arm_error(response, 400, "OperationNotAllowed", "Subscriptions")
    after = await client.get(server.subscription, params=API)
    assert after.status_code == 200
    assert after.json()["displayName"] == "Default"


@pytest.mark.parametrize("skip_token", ["abc", "-1", "1.5"])
async def test_a_malformed_skip_token_is_refused(
    server: InProcessServer, client: httpx2.AsyncClient, skip_token: str
) -> None:
    response = await client.get(f"{server.subscription}/resourceGroups", params={**API, "$skipToken": skip_token})

    assert_arm_error(response, 400, "InvalidRequestContent", f"$skipToken '{skip_token}'", "nextLink")


# --- unknown subscriptions and paths --------------------------------------------------------


async def test_an_unknown_subscription_is_404_and_creates_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    unknown = f"/subscriptions/{uuid.uuid4()}"

    put = await client.put(rg_path(unknown, "rg1"), params=API, json=GROUP_BODY)
    get = await client.get(unknown, params=API)
    listed = await client.get(f"{unknown}/resourceGroups", params=API)

    for response in (put, get, listed):
        assert_arm_error(response, 404, "SubscriptionNotFound", unknown.rsplit("/", 1)[-1])
    assert (await client.get(rg_path(unknown, "rg1"), params=API)).status_code == 404
    await assert_group_missing(client, server.subscription, "rg1")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/subscription/00000000-0000-0000-0000-000000000000"),
        ("GET", "/providers/Microsoft.MachineLearningServices/workspaces"),
        ("PUT", "/resourceGroups/rg1"),
        ("DELETE", "/tenants"),
    ],
)
async def test_an_unknown_path_outside_subscriptions_is_404_with_an_arm_error(
    client: httpx2.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, params=API, json=GROUP_BODY)

    assert_arm_error(response, 404, "InvalidRequestPath", "/subscriptions/")


# PATCH is supported (tags; tests/integration/test_az_wire.py).
@pytest.mark.parametrize("method", ["OPTIONS"])
async def test_an_unsupported_method_on_a_resource_is_405_with_an_arm_error_and_changes_nothing(
    server: InProcessServer, client: httpx2.AsyncClient, method: str
) -> None:
    await create_group(client, server.subscription, "rg1")

    on_group = await client.request(method, rg_path(server.subscription, "rg1"), params=API, json={"tags": {"a": "b"}})
    on_workspace = await client.request(method, ws_path(server.subscription, "rg1", "ws1"), params=API, json={})

    for response in (on_group, on_workspace):
        assert_arm_error(response, 405, "MethodNotAllowed", "not supported")
        assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "PUT", "DELETE"}
    assert (await client.get(rg_path(server.subscription, "rg1"), params=API)).json()["tags"] == {}
    assert await workspace_names(client, server.subscription) == []


async def test_a_post_on_a_resource_without_an_action_is_invalid_action_and_changes_nothing(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")

    on_group = await client.post(rg_path(server.subscription, "rg1"), params=API, json={"tags": {"a": "b"}})
    on_workspace = await client.post(ws_path(server.subscription, "rg1", "ws1"), params=API, json={})

    for response in (on_group, on_workspace):
        assert_arm_error(response, 400, "InvalidAction", "POST needs an action")
    assert (await client.get(rg_path(server.subscription, "rg1"), params=API)).json()["tags"] == {}
    assert await workspace_names(client, server.subscription) == []


async def test_a_post_of_an_unknown_action_is_invalid_action_naming_it(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    await create_group(client, server.subscription, "rg1")
    await create_workspace(client, server.subscription, "rg1", "ws1")

    response = await client.post(ws_path(server.subscription, "rg1", "ws1") + "/frobnicate", params=API, json={})

    assert_arm_error(response, 400, "InvalidAction", "'Microsoft.MachineLearningServices/workspaces/frobnicate'")
    assert await workspace_names(client, server.subscription) == ["ws1"]
