"""ARM partial updates (PATCH): which members of a body's ``properties`` would change a resource.

az's and azure-ai-ml's ``update`` commands GET a resource, change it and send it back, so a PATCH body
repeats most of what the resource already has. Each resource type decides what it may change; what is
generic JSON work lives here: reading the ``properties`` object of an ARM document, and listing the
``properties.<name>`` members of a patch that differ from the current ones (as dotted names, for errors).

Hazard: ``current`` is the resource as GET answers it; a member GET hides (a secret) never compares
equal, so it always counts as changed, which is what PATCH should do with secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tether.errors import InvalidRequest

#: ``unchanged(name, given, present)``: whether the patch's value ``given`` leaves ``present`` as it is.
Unchanged = Callable[[str, Any, Any], bool]


def document_properties(document: Mapping[str, Any]) -> dict[str, Any]:
    """The ``properties`` object of an ARM document; ``{}`` when absent, null or empty (``""``, ``[]``...).

    Raises ``InvalidRequest`` (target ``properties``) when it is present but not an object.
    """
    properties = document.get("properties")
    if not properties:
        return {}
    if not isinstance(properties, dict):
        raise InvalidRequest("properties must be an object.", code="InvalidRequestContent", target="properties")
    return properties


def has_properties_object(document: Mapping[str, Any]) -> bool:
    """Whether the ARM document has a ``properties`` object (some resources answer without one)."""
    return isinstance(document.get("properties"), dict)


def _equal(_name: str, given: Any, present: Any) -> bool:
    return bool(given == present)


def changed_properties(
    patch: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    unchanged: Unchanged = _equal,
    ignored: Callable[[str], bool] = lambda _name: False,
) -> list[str]:
    """``properties.<name>`` of each member of ``patch``'s properties that would change ``current``'s.

    A member passes when ``ignored(name)`` (read-only or changeable by the caller's rules) or when
    ``unchanged(name, given, present)`` says so (default: equal JSON values; absent counts as null).
    """
    given = document_properties(patch)
    present = current.get("properties")
    present = present if isinstance(present, dict) else {}
    return [
        f"properties.{name}"
        for name, value in given.items()
        if not ignored(name) and not unchanged(name, value, present.get(name))
    ]
