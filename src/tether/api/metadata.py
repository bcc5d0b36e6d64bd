"""Cloud metadata: where a client finds Tether's endpoints (``GET /metadata/endpoints``).

Two shapes, as Azure Resource Manager serves them: for ``api-version`` 2022-09-01 and later one
cloud object (what ``az cloud register --endpoint-resource-manager`` reads); for older versions (or
none) a list of clouds (what ``azure-ai-ml`` reads through ``ARM_CLOUD_METADATA_URL``). Key names are
Azure's exactly: az looks them up by name and silently leaves an endpoint unset when a name differs.
``suffixes.storage`` is ``<dns suffix>:<blob port>`` (``core.tether.localhost:8444``): azure-ai-ml builds every
datastore URL as ``https://<account>.blob.<suffix>``, which the blob endpoint serves virtual-host style.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from tether.api.deps import ServicesDep

router = APIRouter()

CLOUD_NAME = "Tether"
# From this api-version on, ARM answers one cloud object instead of a list.
_SINGLE_OBJECT_SINCE = "2022-09-01"


def cloud_metadata(public_url: str, *, storage_suffix: str) -> dict[str, object]:
    """``storage_suffix``: where ``<account>.blob.<suffix>`` reaches the blob endpoint (virtual-host style)."""
    base = public_url.rstrip("/") + "/"
    return {
        "name": CLOUD_NAME,
        "portal": base + "studio",
        "resourceManager": base,
        "authentication": {
            "loginEndpoint": base,
            "audiences": [base],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {
            "storage": storage_suffix,
            "acrLoginServer": "azurecr.io",
            "keyVaultDns": "vault.azure.net",
        },
        "graph": base,
        "graphAudience": base,
        "activeDirectoryDataLake": base,
        "batch": base,
        "gallery": base,
        "sqlManagement": base,
        "media": base,
        "appInsightsResourceId": base,
        "appInsightsTelemetryChannelResourceId": base,
        "vmImageAliasDoc": base,
        "logAnalyticsResourceId": base,
        "ossrdbmsResourceId": base,
        # az sends Graph requests to this address (and asks for tokens for it): Tether serves /v1.0 itself.
        "microsoftGraphResourceId": base,
    }


@router.get("/metadata/endpoints")
async def endpoints(
    svc: ServicesDep, api_version: Annotated[str | None, Query(alias="api-version")] = None
) -> JSONResponse:
    cloud = cloud_metadata(svc.public_url, storage_suffix=svc.settings.storage.cloud_storage_suffix())
    # ISO dates compare as strings; a preview suffix sorts after its date, as ARM treats it.
    if api_version is not None and api_version[:10] >= _SINGLE_OBJECT_SINCE:
        return JSONResponse(cloud)
    return JSONResponse([cloud])
