"""Signing people in: the token service's authorize endpoint with its login page, and the Studio's side
of the authorization-code flow with PKCE (sign in, callback, sign out).

``/{tenant}/oauth2/v2.0/authorize`` (GET shows the login form, POST checks the password) redirects to
the client's ``redirect_uri`` with a one-time ``code``; only this server's own pages and loopback
addresses are accepted as redirect URIs. The login form carries its own CSRF token (a cookie and a
hidden field that must match), so no other site can sign a browser in as someone else.

The Studio starts a sign-in at ``/studio/signin`` (a fresh PKCE verifier and ``state``), and at
``/studio/callback`` redeems the code with the token endpoint's own authorization_code grant
(``SignIn.redeem``: client, redirect URI and PKCE checked as for any client) and keeps the token in a
server-side session.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from tether.errors import InvalidRequest, NotFound, TokenRequestError, Unauthenticated
from tether.identity.sign_in import SignInFailed, allowed_redirect, check_challenge, pkce_challenge
from tether.studio.sessions import SESSION_COOKIE, SIGN_IN_COOKIE
from tether.studio.web import form_with_csrf, page, render, services, sessions, signed_in

router = APIRouter()

STUDIO_CLIENT_ID = "tether-studio"
_LOGIN_CSRF_COOKIE = "tether_login_csrf"
_AUTHORIZE_FIELDS = (
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "response_mode",
)


def _authorize_params(source: dict[str, str], *, public_url: str) -> dict[str, str]:
    params = {k: source.get(k, "") for k in _AUTHORIZE_FIELDS}
    if source.get("response_type", "code") != "code":
        raise InvalidRequest("response_type must be code.", code="unsupported_response_type")
    if params["response_mode"] not in ("", "query", "form_post"):
        raise InvalidRequest("response_mode must be query or form_post.", code="invalid_request")
    if not params["client_id"]:
        raise InvalidRequest("client_id is required.", code="invalid_request")
    if not allowed_redirect(params["redirect_uri"], public_url=public_url):
        raise InvalidRequest(
            f"redirect_uri '{params['redirect_uri']}' is not allowed: use a loopback address "
            "(http://localhost:<port>/...) or a page of this server.",
            code="invalid_request",
        )
    check_challenge(params["code_challenge"], params["code_challenge_method"])
    return params


async def _tenant(request: Request, tenant: str) -> str:
    if not await services(request).sign_in.tenant_exists(tenant):
        raise NotFound(f"Tenant '{tenant}' not found.", code="TenantNotFound")
    return tenant


@router.get("/{tenant}/oauth2/v2.0/authorize")
@page
async def authorize_form(tenant: str, request: Request) -> Response:
    await _tenant(request, tenant)
    params = _authorize_params(dict(request.query_params), public_url=services(request).public_url)
    login_csrf = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", params=params, login_csrf=login_csrf, login_hint=request.query_params.get("login_hint")
    )
    response.set_cookie(_LOGIN_CSRF_COOKIE, login_csrf, httponly=True, secure=True, samesite="strict", max_age=900)
    return response


@router.post("/{tenant}/oauth2/v2.0/authorize")
@page
async def authorize_submit(tenant: str, request: Request) -> Response:
    svc = services(request)
    await _tenant(request, tenant)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    params = _authorize_params(form, public_url=svc.public_url)
    cookie, posted = request.cookies.get(_LOGIN_CSRF_COOKIE, ""), form.get("login_csrf", "")
    if not cookie or not secrets.compare_digest(cookie, posted):
        raise InvalidRequest(
            "The sign-in form expired or came from another site. Start the sign-in again.", code="CsrfTokenInvalid"
        )
    upn = form.get("username", "").strip()
    try:
        caller = await svc.sign_in.sign_in(
            tenant,
            user_principal_name=upn,
            password=form.get("password", ""),
            source=request.client.host if request.client else None,
        )
    except SignInFailed as e:
        return render(request, "login.html", status=401, params=params, login_csrf=cookie, error=str(e), login_hint=upn)
    code = svc.sign_in.issue_code(
        caller,
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        challenge=params["code_challenge"],
        scope=params["scope"],
        user_principal_name=upn,
        nonce=params["nonce"],
    )
    response: Response
    if params["response_mode"] == "form_post":  # MSAL's choice: the code travels in a POST body, not the URL
        response = render(
            request, "form_post.html", redirect_uri=params["redirect_uri"], code=code, state=params["state"]
        )
    else:
        separator = "&" if "?" in params["redirect_uri"] else "?"
        query = urlencode({"code": code, "state": params["state"]})
        response = RedirectResponse(f"{params['redirect_uri']}{separator}{query}", status_code=303)
    response.delete_cookie(_LOGIN_CSRF_COOKIE)
    return response


def _callback_url(request: Request) -> str:
    return f"{services(request).public_url}/studio/callback"


async def _tenant_of_server(request: Request) -> str:
    """The tenant people sign in to: the server's first (bootstrap) tenant."""
    return await services(request).sign_in.default_tenant()


@router.get("/studio/signin")
async def sign_in(request: Request) -> Response:
    pending = sessions(request).begin_sign_in(request.query_params.get("next", "/studio"))
    query = urlencode(
        {
            "client_id": STUDIO_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": _callback_url(request),
            "scope": f"{services(request).public_url}/.default openid profile",
            "state": pending.state,
            "code_challenge": pkce_challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
    )
    tenant = await _tenant_of_server(request)
    response = RedirectResponse(f"/{tenant}/oauth2/v2.0/authorize?{query}", status_code=303)
    response.set_cookie(SIGN_IN_COOKIE, pending.state, httponly=True, secure=True, samesite="lax", max_age=600)
    return response


@router.get("/studio/callback")
@page
async def callback(request: Request) -> Response:
    state = request.query_params.get("state", "")
    if not state or request.cookies.get(SIGN_IN_COOKIE) != state:
        raise Unauthenticated("This sign-in was not started in this browser. Sign in again.", code="SignInStateInvalid")
    pending = sessions(request).finish_sign_in(state)
    if pending is None:
        raise Unauthenticated("The sign-in took too long or was already used. Sign in again.", code="SignInExpired")
    try:  # the token endpoint's own authorization_code grant: client, redirect URI and PKCE are checked there
        token = services(request).sign_in.redeem(
            code=request.query_params.get("code", ""),
            client_id=STUDIO_CLIENT_ID,
            redirect_uri=_callback_url(request),
            verifier=pending.verifier,
        )
    except TokenRequestError as e:
        raise Unauthenticated(f"The token endpoint refused the sign-in: {e.message}", code="SignInFailed") from e
    caller = await services(request).tokens.authenticate(token["access_token"])
    session = sessions(request).create(
        access_token=token["access_token"],
        expires_in_s=float(token["expires_in"]),
        user_principal_name=await services(request).sign_in.user_principal_name(caller.object_id),
        display_name=caller.display_name,
    )
    response = RedirectResponse(pending.next_path, status_code=303)
    response.set_cookie(SESSION_COOKIE, session.id, httponly=True, secure=True, samesite="lax", path="/studio")
    response.delete_cookie(SIGN_IN_COOKIE)
    return response


@router.post("/studio/signout")
@page
async def sign_out(request: Request) -> Response:
    studio = await signed_in(request)
    await form_with_csrf(request, studio)
    sessions(request).end(studio.session.id)
    response = render(request, "signed_out.html")
    response.delete_cookie(SESSION_COOKIE, path="/studio")
    return response
