"""Wire shape of relay resources (``Microsoft.Relay``): their ARM ``properties``. Relays take no request
bodies (they are written with a connected cluster's ML extension, never through their own PUT)."""

from __future__ import annotations

from typing import Any

from tether.domain.models.relays import RelayRecord


def relay_properties(record: RelayRecord, *, provisioning_state: str | None) -> dict[str, Any]:
    """A relay resource's ARM ``properties``: what it stores and, when given, its state (a list answers
    without it, as it always has)."""
    properties = record.model_dump(mode="json", by_alias=True)
    if provisioning_state is not None:
        properties["provisioningState"] = provisioning_state
    return properties
