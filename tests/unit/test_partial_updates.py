"""The generic part of ARM PATCH: a body's properties, and which of them would change a resource."""

from __future__ import annotations

from typing import Any

import pytest

from tether.errors import InvalidRequest
from tether.protocol.partial_updates import changed_properties, document_properties, has_properties_object


def test_document_properties_absent_null_or_empty_is_an_empty_object() -> None:
    assert document_properties({}) == {}
    assert document_properties({"properties": None}) == {}
    assert document_properties({"properties": []}) == {}
    assert document_properties({"properties": {"a": 1}}) == {"a": 1}


def test_document_properties_that_are_not_an_object_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidRequest) as raised:
        document_properties({"properties": "description"})
    assert raised.value.target == "properties"


def test_changed_properties_names_only_members_that_differ() -> None:
    current = {"properties": {"description": "old", "count": 2}}
    patch = {"properties": {"description": "new", "count": 2, "added": None, "other": 1}}
    assert changed_properties(patch, current) == ["properties.description", "properties.other"]


def test_changed_properties_skips_ignored_members_and_uses_the_callers_comparison() -> None:
    def same_ignoring_case(_name: str, given: Any, present: Any) -> bool:
        return str(given).lower() == str(present).lower()

    current = {"properties": {"state": "Enabled", "x": "A"}}
    patch = {"properties": {"state": "enabled", "x": "b", "provisioningState": "Succeeded"}}
    assert changed_properties(
        patch, current, unchanged=same_ignoring_case, ignored=lambda name: name == "provisioningState"
    ) == ["properties.x"]


def test_changed_properties_against_a_resource_without_properties_compares_with_null() -> None:
    assert changed_properties({"properties": {"a": None, "b": 1}}, {}) == ["properties.b"]


def test_has_properties_object_only_for_an_object() -> None:
    assert has_properties_object({"properties": {}})
    assert not has_properties_object({"properties": None})
    assert not has_properties_object({})
