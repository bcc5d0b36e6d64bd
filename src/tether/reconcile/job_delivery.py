"""The SAS URLs a job's pods use to download its code and upload its outputs, signed at dispatch.

The plan (``dispatch_plan.Delivery``) says which containers and prefixes; this signs a service SAS
per container — read and list for the code, create and write for the outputs — and renders the
TetherJob's ``spec.delivery`` (docs/ml-extension.md). The SAS lives as long as the job may run (its
``limits.timeout``, else ``DEFAULT_LIFETIME``) plus ``MARGIN`` for a queue wait; it is never stored in
Tether's database, only in the TetherJob and the pods' environment.

Hazard: an output SAS may write anywhere in the default datastore's container, not only under the
job's prefix (a service SAS is per container); the pods run the user's own code, which could use it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tether.providers.blob_engine import BlobEngine
from tether.reconcile.dispatch_plan import BlobPlace, Delivery

DEFAULT_LIFETIME = dt.timedelta(days=7)
MARGIN = dt.timedelta(days=1)


class DeliverySigner:
    def __init__(self, *, engine: BlobEngine, blob_url: str, ca_pem: str | None) -> None:
        self._engine = engine
        self._blob_url = blob_url.rstrip("/")
        self._ca_pem = ca_pem

    async def _url(self, place: BlobPlace, *, permissions: str, expiry: dt.datetime) -> str:
        sas = await self._engine.container_sas(place.account, place.container, permissions=permissions, expiry=expiry)
        return f"{self._blob_url}/{place.account}/{place.container}?{sas}"

    async def spec(self, delivery: Delivery, *, timeout_s: int | None) -> dict[str, Any]:
        """The TetherJob's ``spec.delivery``."""
        lifetime = dt.timedelta(seconds=timeout_s) if timeout_s else DEFAULT_LIFETIME
        expiry = dt.datetime.now(dt.UTC) + lifetime + MARGIN
        rendered: dict[str, Any] = {}
        if delivery.code is not None:
            rendered["code"] = {
                "containerUrl": await self._url(delivery.code, permissions="rl", expiry=expiry),
                "prefix": delivery.code.prefix,
            }
        if delivery.outputs:
            # The default datastore's container is made lazily (providers.datastores): make sure it is there.
            for place in {p for _, p in delivery.outputs}:
                await self._engine.create_container(place.account, place.container, metadata={})
            rendered["outputs"] = [
                {
                    "name": name,
                    "containerUrl": await self._url(place, permissions="cw", expiry=expiry),
                    "prefix": place.prefix,
                }
                for name, place in delivery.outputs
            ]
        if self._ca_pem:
            rendered["caBundle"] = self._ca_pem
        return rendered
