"""A workspace datastore's stored state (``Microsoft.MachineLearningServices/workspaces/datastores``):
``DatastoreRecord``.

All public: which blob container of which storage account the datastore points at, and the fields the
SDK sends with it (description, tags, properties, the identity the service reads data with). ``isDefault``
is set only on the workspace's ``workspaceblobstore``, written with the workspace; a PUT keeps it as it
was. The account's key is never here (``listSecrets`` reads the account's sealed keys).

The layout on disk is the model's dump by alias with every key present (None as null), as the provider
wrote it before the model existed (a PUT wrote the same keys in another order: JSON objects are unordered).
Keys the model does not know are kept through a read and a write, and answered as they always were.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ConfigDict, Field

from tether.domain.models.stored import StoredModel


class DatastoreRecord(StoredModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")

    datastore_type: str = Field("AzureBlob", alias="datastoreType")
    account_name: str = Field(alias="accountName")
    container_name: str = Field(alias="containerName")
    #: ``host:port`` of Tether's blob endpoint.
    endpoint: str
    protocol: str = "https"
    is_default: bool = Field(False, alias="isDefault")
    service_data_access_auth_identity: str | None = Field(None, alias="serviceDataAccessAuthIdentity")
    description: str | None = None
    properties: dict[str, str] | None = None
    tags: dict[str, str] | None = None


def default_datastore(records: Iterable[DatastoreRecord]) -> DatastoreRecord | None:
    """The workspace's default datastore (``workspaceblobstore``) among its datastores, if it has one."""
    return next((record for record in records if record.is_default), None)
