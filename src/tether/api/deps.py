"""Request dependencies: the services, the authenticated caller, the api-version, the JSON body.

All are ``async def`` although none awaits: FastAPI runs plain ``def`` dependencies in a thread pool,
a thread hop per dependency per request for work that takes microseconds (tokens are cached)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from tether.api.admission import VERIFIED_CALLER
from tether.api.services import Services
from tether.domain.principals import Caller
from tether.errors import InvalidRequest, PayloadTooLarge, Unauthenticated

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?$")


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def authenticated_caller(request: Request, svc: ServicesDep) -> Caller:
    """The caller behind the bearer token; 401 with the reason when there is none or it is invalid.
    Admission has already verified a valid token (``tether.api.admission``); that caller is reused."""
    verified = request.scope.get("state", {}).get(VERIFIED_CALLER)
    if isinstance(verified, Caller):
        return verified
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated(
            "Authentication failed. The 'Authorization' header is missing; send 'Bearer <token>' "
            "(tether login, then any tether command, does this for you).",
            code="AuthenticationFailed",
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "Authentication failed. The 'Authorization' header must be 'Bearer <token>'.",
            code="AuthenticationFailedInvalidHeader",
        )
    return await svc.tokens.authenticate(token.strip())


CallerDep = Annotated[Caller, Depends(authenticated_caller)]


async def api_version(version: Annotated[str | None, Query(alias="api-version")] = None) -> str:
    """ARM requires ``api-version`` on every call; Tether accepts any well-formed one."""
    if version is None:
        raise InvalidRequest(
            "The api-version query parameter (?api-version=) is required for all requests.",
            code="MissingApiVersionParameter",
        )
    if not _API_VERSION.fullmatch(version):
        raise InvalidRequest(
            f"The api-version '{version}' is invalid; use a date such as 2024-10-01 or 2024-10-01-preview.",
            code="InvalidApiVersionParameter",
        )
    return version


ApiVersionDep = Annotated[str, Depends(api_version)]


async def json_body(request: Request, svc: Services) -> Any:
    """The request body parsed as JSON, refusing bodies over the configured limit before reading them whole."""
    limit = svc.settings.api.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.", code="InvalidRequestContent")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidRequest(f"The request body is not valid JSON: {e}.", code="InvalidRequestContent") from e
    except RecursionError as e:
        raise InvalidRequest("The request body is nested too deeply.", code="InvalidRequestContent") from e
    except ValueError as e:  # an integer past Python's digit limit (sys.get_int_max_str_digits)
        raise InvalidRequest(
            f"The request body holds a number Tether does not accept ({e}); send numbers of at most 4300 digits.",
            code="InvalidRequestContent",
        ) from e
