"""The token service's HTTP face: OpenID discovery, JWKS, and the OAuth 2.0 token endpoint (per tenant).

These are reachable without a token (a client needs them to get one); errors use OAuth's shape. The
token endpoint's client-credentials grant takes either a client secret or a client assertion (an
external issuer's JWT, exchanged through workload identity federation), never both.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tether.api.deps import ServicesDep
from tether.errors import NotFound, Throttled, TokenRequestError
from tether.identity.federation import JWT_BEARER

router = APIRouter()

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _known_tenant(svc: ServicesDep, tenant: str) -> str:
    if not await svc.tokens.tenant_exists(tenant):
        raise NotFound(f"Tenant '{tenant}' not found.", code="TenantNotFound")
    return tenant


@router.get("/{tenant}/v2.0/.well-known/openid-configuration")
async def openid_configuration(tenant: str, svc: ServicesDep) -> JSONResponse:
    return JSONResponse(svc.tokens.openid_configuration(await _known_tenant(svc, tenant)))


@router.get("/{tenant}/discovery/v2.0/keys")
async def jwks(tenant: str, svc: ServicesDep) -> JSONResponse:
    await _known_tenant(svc, tenant)
    return JSONResponse(svc.tokens.jwks())


@router.post("/{tenant}/oauth2/v2.0/token")
async def token(tenant: str, request: Request, svc: ServicesDep) -> JSONResponse:
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    grant = fields.get("grant_type")
    if grant == "authorization_code":  # people, through the authorize endpoint's login page (PKCE)
        return JSONResponse(redeem_code(svc, fields), headers=_NO_STORE)
    if grant != "client_credentials":
        raise TokenRequestError(
            f"grant_type '{grant}' is not supported; use client_credentials or authorization_code.",
            code="unsupported_grant_type",
        )
    client_id, scope = fields.get("client_id"), fields.get("scope")
    if not client_id or not scope:
        raise TokenRequestError("client_id and scope are required.", code="invalid_request")
    secret = fields.get("client_secret")
    assertion, assertion_type = fields.get("client_assertion"), fields.get("client_assertion_type")
    if secret and (assertion or assertion_type):
        raise TokenRequestError(
            "Send either client_secret or client_assertion (with client_assertion_type), not both.",
            code="invalid_request",
        )
    if assertion or assertion_type:
        answer = await svc.federation.exchange(
            tenant, client_id=client_id, assertion=_jwt_bearer(assertion, assertion_type), scope=scope
        )
    elif secret:
        source = request.client.host if request.client else None
        try:
            answer = await svc.tokens.client_credentials(
                tenant, client_id=client_id, client_secret=secret, scope=scope, source=source
            )
        except Throttled as e:  # OAuth's shape; azure-identity retries a 429 after Retry-After
            return JSONResponse(
                {"error": "temporarily_unavailable", "error_description": f"AADSTS50196: {e.message}"},
                status_code=429,
                headers={**_NO_STORE, "Retry-After": str(e.retry_after_s)},
            )
    else:
        raise TokenRequestError(
            "client_secret or client_assertion (with client_assertion_type) is required for this client.",
            code="invalid_client",
        )
    return JSONResponse(answer, headers=_NO_STORE)


def redeem_code(svc: ServicesDep, fields: dict[str, str]) -> dict[str, Any]:
    code, verifier = fields.get("code"), fields.get("code_verifier")
    client_id, redirect_uri = fields.get("client_id"), fields.get("redirect_uri")
    if not code or not verifier or not client_id or not redirect_uri:
        raise TokenRequestError(
            "code, code_verifier, client_id and redirect_uri are required for authorization_code.",
            code="invalid_request",
        )
    return svc.sign_in.redeem(code=code, client_id=client_id, redirect_uri=redirect_uri, verifier=verifier)


def _jwt_bearer(assertion: str | None, assertion_type: str | None) -> str:
    """The client assertion, once its type is the one Tether accepts (RFC 7523 JWT bearer)."""
    if assertion_type != JWT_BEARER:
        raise TokenRequestError(
            f"client_assertion_type '{assertion_type or ''}' is not supported; use '{JWT_BEARER}'.",
            code="invalid_request",
        )
    if not assertion:
        raise TokenRequestError("client_assertion is required with client_assertion_type.", code="invalid_request")
    return assertion
