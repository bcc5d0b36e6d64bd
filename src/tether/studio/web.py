"""What every Studio page shares: templates, the signed-in user, CSRF checks, and errors as pages.

``signed_in`` resolves the session cookie to the user's token and authenticates it exactly as the API
does (``TokenService.authenticate``), so a page acts as that user and nobody else. Pages raise Tether's
errors; ``page`` turns them into an error page with Azure's code, message and fix and the status the
API would answer, and turns a missing session into a redirect to sign in (GET) or a 401 (POST).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from tether.api.actions import request_context
from tether.api.errors import status_of
from tether.api.services import Services
from tether.domain.principals import Caller
from tether.errors import Forbidden, TetherError, Unauthenticated
from tether.providers.base import RequestContext
from tether.studio.sessions import SESSION_COOKIE, Sessions, StudioSession, csrf_matches

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class NotSignedIn(Exception):
    """No session, or its token expired."""


@dataclass(frozen=True)
class Studio:
    """The signed-in user on one request."""

    svc: Services
    session: StudioSession
    caller: Caller

    @property
    def ctx(self) -> RequestContext:
        return request_context(self.svc, self.caller)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def sessions(request: Request) -> Sessions:
    found: Sessions = request.app.state.studio_sessions
    return found


async def signed_in(request: Request) -> Studio:
    svc = services(request)
    session = sessions(request).get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise NotSignedIn
    try:
        caller = await svc.tokens.authenticate(session.access_token)
    except Unauthenticated as e:
        sessions(request).end(session.id)
        raise NotSignedIn from e
    return Studio(svc=svc, session=session, caller=caller)


async def form_with_csrf(request: Request, studio: Studio) -> dict[str, str]:
    """The posted form, once its CSRF token matches the session's; Forbidden otherwise."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_matches(studio.session, fields.get("csrf")):
        raise Forbidden(
            "The form's CSRF token is missing or does not match your session. Reload the page and try again.",
            code="CsrfTokenInvalid",
        )
    return fields


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    studio: Studio | None = values.pop("studio", None)
    html = TEMPLATES.get_template(template).render(
        request_path=request.url.path,
        user=studio.session if studio else None,
        csrf=studio.session.csrf if studio else "",
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


P = ParamSpec("P")


def page(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Errors as pages: Tether's errors render with their code and message; no session signs in first."""

    @functools.wraps(handler)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs.get("request")
        assert isinstance(request, Request)
        try:
            return await handler(*args, **kwargs)
        except NotSignedIn:
            if request.method == "GET":
                return RedirectResponse(f"/studio/signin?next={quote(request.url.path)}", status_code=303)
            return render(request, "error.html", status=401, code="NotSignedIn", message=_SIGN_IN_FIRST)
        except TetherError as e:
            studio = None
            with contextlib.suppress(NotSignedIn):
                studio = await signed_in(request)
            return render(request, "error.html", status=status_of(e), code=e.code, message=e.message, studio=studio)

    return wrapped


_SIGN_IN_FIRST = "You are not signed in, or your session has ended. Sign in at /studio/signin and try again."


def local_time(value: str | None) -> Markup | str:
    """An ISO time as a ``<time>`` the page's script shows in the reader's locale (UTC without script)."""
    if not value:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    text = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), text)


TEMPLATES.filters["local_time"] = local_time
