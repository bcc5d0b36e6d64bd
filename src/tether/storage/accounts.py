"""The storage accounts the blob endpoint serves: name → ARM id and keys, read from the store.

Storage account names are global (they are the first segment of every blob URL), so the endpoint
finds an account by name alone. Lookups are reused for ``ttl_s``: a deleted account keeps
answering for at most that long in another server process; this process forgets at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tether.crypto import SecretBox
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.resource_types import STORAGE_ACCOUNTS
from tether.recent import Recent
from tether.storage.azurite import AccountKeys
from tether.store import Store, cluster_secrets, resources


@dataclass(frozen=True)
class StoredAccount:
    resource_id: ResourceId
    keys: AccountKeys

    def blob_service(self) -> ResourceId:
        return self.resource_id.child("blobServices", "default")

    def container(self, name: str) -> ResourceId:
        return self.blob_service().child("containers", name)


class AccountDirectory:
    def __init__(self, store: Store, secrets: SecretBox, *, ttl_s: float = 5.0) -> None:
        self._store = store
        self._secrets = secrets
        self._found: Recent[str, StoredAccount] = Recent(ttl_s)

    async def find(self, name: str) -> StoredAccount | None:
        if (known := self._found.get(name)) is not None:
            return known
        async with self._store.transaction() as session:
            rows = await resources.find_by_name(session, STORAGE_ACCOUNTS, name)
            if not rows:
                return None
            sealed = await cluster_secrets.get(
                session, resource_key=rows[0].key, kind=cluster_secrets.STORAGE_ACCOUNT_KEYS
            )
        if sealed is None:
            return None
        keys = json.loads(self._secrets.open(sealed))
        account = StoredAccount(parse_resource_id(rows[0].id), AccountKeys(name, keys["key1"], keys["key2"]))
        return self._found.put(name, account)

    def forget(self, name: str) -> None:
        self._found.forget(name)
