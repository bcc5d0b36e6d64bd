"""The OpenAPI document's ARM part: each served resource type's paths, generated from the registry.

The ARM routes are one catch-all (``tether.api.arm``), which OpenAPI cannot describe usefully (one
``/subscriptions/{path}`` with no ``path`` parameter). This module hides that route from the document
and describes instead, for every type the registry serves, its collection path (GET: list) and its
item path (GET, PUT, DELETE) with named path parameters, ``api-version``, the request body's shape,
the ARM error body and the ETag headers. The document is what the fuzzing test (schemathesis) reads.

Hazard: the document describes the envelope every provider shares, not each type's ``properties``
(the providers validate those and answer 400 with the field); it is a map of the surface, not a
per-type contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tether.domain import resource_types as rt
from tether.domain.ids import SUBSCRIPTIONS

_CLUSTER_PARENTS = (rt.CONNECTED_CLUSTERS, rt.MANAGED_CLUSTERS)
_SUBSCRIPTION_SCOPED = (rt.ROLE_ASSIGNMENTS, rt.ROLE_DEFINITIONS)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "target": {"type": "string"}},
        }
    },
}
_RESOURCE = {"type": "object", "additionalProperties": True}
_PUT_BODY = {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "identity": {"type": "object"},
        "properties": {"type": "object"},
    },
}


def _param_name(segment: str) -> str:
    singular = segment[:-3] + "y" if segment.endswith("ies") else segment.removesuffix("s")
    return f"{singular}Name"


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


_API_VERSION = {
    "name": "api-version",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}(-preview)?$"},
}
_CONDITIONS = [
    {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
]


def _segments(full_type: str) -> tuple[str, list[str]]:
    namespace, *types = full_type.split("/")
    return namespace, types


def _templates(full_type: str) -> list[tuple[str, list[str]]]:
    """(collection path, path parameter names) pairs for a type: one per place it can live."""
    if full_type == rt.RESOURCE_GROUPS:
        return [("/subscriptions/{subscriptionId}/resourceGroups", ["subscriptionId"])]
    namespace, types = _segments(full_type)
    if full_type in _SUBSCRIPTION_SCOPED:
        return [(f"/subscriptions/{{subscriptionId}}/providers/{namespace}/{types[0]}", ["subscriptionId"])]
    group = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    if full_type == rt.EXTENSIONS:
        found = []
        for cluster in _CLUSTER_PARENTS:
            cluster_ns, (cluster_type,) = _segments(cluster)
            name = _param_name(cluster_type)
            path = f"{group}/providers/{cluster_ns}/{cluster_type}/{{{name}}}/providers/{namespace}/{types[0]}"
            found.append((path, ["subscriptionId", "resourceGroupName", name]))
        return found
    path, names = f"{group}/providers/{namespace}", ["subscriptionId", "resourceGroupName"]
    for parent in types[:-1]:
        path += f"/{parent}/{{{_param_name(parent)}}}"
        names.append(_param_name(parent))
    return [(f"{path}/{types[-1]}", names)]


def _responses(*codes: str, body: dict[str, Any] | None = _RESOURCE) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for code in codes:
        answer[code] = {"description": code}
        if body is not None and code in ("200", "201"):
            answer[code]["content"] = {"application/json": {"schema": body}}
            answer[code]["headers"] = {"ETag": {"schema": {"type": "string"}}}
    answer["default"] = {"description": "ARM error", "content": {"application/json": {"schema": _ERROR}}}
    return answer


def arm_paths(served_types: list[str]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for full_type in served_types:
        if not full_type.startswith("Microsoft.") or full_type == SUBSCRIPTIONS:
            continue
        kind = full_type.rsplit("/", 1)[-1]
        for collection, names in _templates(full_type):
            base = [_path_param(n) for n in names] + [_API_VERSION]
            item_name = "resourceGroupName" if full_type == rt.RESOURCE_GROUPS else _param_name(kind)
            item = [_path_param(n) for n in [*names, item_name]] + [_API_VERSION]
            tag = [full_type]
            paths[collection] = {
                "get": {
                    "tags": tag,
                    "summary": f"List {kind}",
                    "parameters": base,
                    "responses": _responses("200", body={"type": "object", "properties": {"value": {"type": "array"}}}),
                }
            }
            paths[f"{collection}/{{{item_name}}}"] = {
                "get": {
                    "tags": tag,
                    "summary": f"Get a {kind} item",
                    "parameters": item,
                    "responses": _responses("200"),
                },
                "put": {
                    "tags": tag,
                    "summary": f"Create or update a {kind} item",
                    "parameters": item + _CONDITIONS,
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _PUT_BODY}}},
                    "responses": _responses("200", "201"),
                },
                "delete": {
                    "tags": tag,
                    "summary": f"Delete a {kind} item",
                    "parameters": item + _CONDITIONS,
                    "responses": _responses("200", "202", "204", body=None),
                },
            }
    return paths


def install(app: FastAPI, *, served_types: Callable[[], list[str]]) -> None:
    """Replace ``app.openapi`` with one that adds the ARM paths (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            document.setdefault("paths", {}).update(arm_paths(served_types()))
            document.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
            document["security"] = [{"bearer": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
