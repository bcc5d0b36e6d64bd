"""Cloud metadata that ``azure-ai-ml`` reads (``ARM_CLOUD_METADATA_URL``) to find Tether's endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tether.api.deps import ServicesDep

router = APIRouter()

CLOUD_NAME = "Tether"


def cloud_metadata(public_url: str) -> dict[str, object]:
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
            "storage": "core.windows.net",
            "acrLoginServer": "azurecr.io",
            "keyVaultDns": "vault.azure.net",
        },
        "graph": base,
        "graphAudience": base,
        "activeDirectoryDataLakeResourceId": base,
        "batch": base,
        "gallery": base,
        "sqlManagement": base,
        "media": base,
        "appInsightsResourceId": base,
        "appInsightsTelemetryChannelResourceId": base,
        "vmImageAliasDoc": base,
        "logAnalyticsResourceId": base,
        "ossrDbmsResourceId": base,
        "microsoftGraphResourceId": base,
    }


@router.get("/metadata/endpoints")
async def endpoints(svc: ServicesDep) -> JSONResponse:
    return JSONResponse([cloud_metadata(svc.public_url)])
