"""ARM's $filter for resource lists: what az sends parses, anything else is refused."""

from __future__ import annotations

import pytest

from tether.domain.resource_filters import parse_filter
from tether.errors import InvalidRequest

_ROW = {
    "name": "ws1",
    "resource_group": "RG1",
    "location": "westeurope",
    "resource_type": "Microsoft.MachineLearningServices/workspaces",
    "tags": {"Team": "a"},
}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        (None, True),
        ("resourceGroup eq 'rg1' and name eq 'WS1'", True),
        ("resourceType eq 'microsoft.machinelearningservices/workspaces'", True),
        ("location eq 'West Europe'", True),
        ("tagname eq 'team' and tagvalue eq 'a'", True),
        ("tagname eq 'team' and tagvalue eq 'A'", False),  # tag values compare exactly, as in ARM
        ("startswith(tagname, 'te')", True),
        ("substringof('s1', name)", True),
        ("name eq 'o''brien'", False),
    ],
)
def test_filters_az_sends(text: str | None, matches: bool) -> None:
    assert parse_filter(text).matches(**_ROW) is matches  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["name ne 'x'", "tagvalue eq 'a'", "name eq 'x' or name eq 'y'"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_filter(text)
    assert raised.value.code == "InvalidFilter"
