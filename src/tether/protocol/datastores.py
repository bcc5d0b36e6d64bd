"""Wire shape of workspace datastores' answers (``Microsoft.MachineLearningServices/workspaces/datastores``)."""

from __future__ import annotations

from typing import Any

from tether.domain.models.datastores import DatastoreRecord


def datastore_properties(record: DatastoreRecord) -> dict[str, Any]:
    """A datastore's ARM ``properties``: everything it stores, and the kind of credential it reads the account
    with (always the account's key, which ``listSecrets`` gives; never stored here)."""
    return {**record.to_stored(), "credentials": {"credentialsType": "AccountKey"}}
