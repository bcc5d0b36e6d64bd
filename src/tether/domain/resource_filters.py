"""ARM's ``$filter`` for resource and resource-group lists, parsed into a predicate (no I/O).

The grammar is the small OData subset ARM accepts on ``/resources`` and ``/resourcegroups`` and az
sends: clauses joined by ``and``, each one of ``resourceGroup|name|location|resourceType|tagName|
tagValue eq '<text>'``, ``startswith(tagName,'<prefix>')`` or ``substringof('<text>', name)``.
Names and values compare case-insensitively except tag values, which ARM compares exactly. A
clause outside the grammar is an ``InvalidRequest`` naming what is supported, never ignored: a
filter silently dropped would list (and a script would act on) everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tether.errors import InvalidRequest

# An OData string literal: a quote inside is written twice ('o''brien').
_LITERAL = r"'((?:[^']|'')*)'"
_EQ = re.compile(rf"^(resourceGroup|name|location|resourceType|tagName|tagValue)\s+eq\s+{_LITERAL}$", re.IGNORECASE)
_TAG_PREFIX = re.compile(rf"^startswith\(\s*tagName\s*,\s*{_LITERAL}\s*\)$", re.IGNORECASE)
_NAME_CONTAINS = re.compile(rf"^substringof\(\s*{_LITERAL}\s*,\s*name\s*\)$", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_SUPPORTED = (
    "resourceGroup|name|location|resourceType|tagName|tagValue eq '<value>', startswith(tagName,'<prefix>') "
    "and substringof('<text>',name), joined by 'and'"
)


@dataclass(frozen=True)
class ResourceFilter:
    """What a ``$filter`` asks for; an empty filter matches everything."""

    equals: Mapping[str, str] = field(default_factory=dict)  # lower-case field name → value
    tag_prefix: str | None = None
    name_contains: str | None = None

    def matches(
        self,
        *,
        name: str,
        resource_group: str | None,
        location: str | None,
        resource_type: str,
        tags: Mapping[str, str],
    ) -> bool:
        plain: dict[str, str | None] = {
            "resourcegroup": resource_group,
            "name": name,
            "location": (location or "").replace(" ", ""),
            "resourcetype": resource_type,
        }
        for key, wanted in self.equals.items():
            if key in plain:
                value = plain[key]
                compare = wanted.replace(" ", "") if key == "location" else wanted
                if value is None or value.lower() != compare.lower():
                    return False
        tag_name = self.equals.get("tagname")
        tag_items = {k.lower(): v for k, v in tags.items()}
        if tag_name is not None:
            if tag_name.lower() not in tag_items:
                return False
            if "tagvalue" in self.equals and tag_items[tag_name.lower()] != self.equals["tagvalue"]:
                return False
        if self.tag_prefix is not None and not any(k.startswith(self.tag_prefix.lower()) for k in tag_items):
            return False
        return self.name_contains is None or self.name_contains.lower() in name.lower()


def parse_filter(text: str | None) -> ResourceFilter:
    """Parse a ``$filter``; None or blank matches everything."""
    if text is None or not text.strip():
        return ResourceFilter()
    equals: dict[str, str] = {}
    tag_prefix: str | None = None
    name_contains: str | None = None
    for clause in _AND.split(text.strip()):
        clause = clause.strip()
        if match := _EQ.match(clause):
            equals[match.group(1).lower()] = match.group(2).replace("''", "'")
        elif match := _TAG_PREFIX.match(clause):
            tag_prefix = match.group(1).replace("''", "'")
        elif match := _NAME_CONTAINS.match(clause):
            name_contains = match.group(1).replace("''", "'")
        else:
            raise InvalidRequest(
                f"The $filter clause '{clause}' is not supported. Supported: {_SUPPORTED}.", code="InvalidFilter"
            )
    if "tagvalue" in equals and "tagname" not in equals:
        raise InvalidRequest("tagValue in $filter needs a tagName clause too.", code="InvalidFilter")
    return ResourceFilter(equals=equals, tag_prefix=tag_prefix, name_contains=name_contains)
