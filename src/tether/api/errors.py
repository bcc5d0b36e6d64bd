"""The one place where errors become HTTP: status codes and ARM error bodies.

Every ``TetherError`` is answered as ``{"error": {"code", "message", "target"?, "details"?}}`` with
the status of its class; FastAPI's own request errors and unknown routes get the same shape, and an
unexpected exception is a 500 whose body says nothing internal (the traceback goes to the log).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tether import errors

log = logging.getLogger(__name__)

STATUS: list[tuple[type[errors.TetherError], int]] = [
    (errors.TokenRequestError, 400),
    (errors.InvalidRequest, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PreconditionFailed, 412),
    (errors.PayloadTooLarge, 413),
    (errors.Throttled, 429),
    (errors.Unavailable, 503),
    (errors.DeadlineExceeded, 504),
    (errors.Internal, 500),
]


def status_of(error: errors.TetherError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def arm_body(error: errors.TetherError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.target:
        body["target"] = error.target
    if error.details:
        body["details"] = [
            {"code": d.code, "message": d.message, **({"target": d.target} if d.target else {})} for d in error.details
        ]
    return {"error": body}


def error_response(error: errors.TetherError) -> JSONResponse:
    headers = {"x-ms-failure-cause": "gateway" if isinstance(error, errors.Unauthenticated) else "service"}
    if isinstance(error, errors.Unauthenticated):
        headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{error.code}"'
    if isinstance(error, errors.Throttled):
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse(arm_body(error), status_code=status_of(error), headers=headers)


async def _tether_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.TetherError)
    if isinstance(exc, errors.TokenRequestError):  # OAuth's shape, as azure-identity expects
        return JSONResponse(
            {"error": exc.code, "error_description": exc.message},
            status_code=401 if exc.code == "invalid_client" else 400,
        )
    return error_response(exc)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        error: errors.TetherError = errors.NotFound(
            "No such path. ARM paths start with /subscriptions/<subscription id>/...",
            code="InvalidRequestPath",
        )
    elif exc.status_code == 405:
        error = errors.InvalidRequest("This method is not supported on this path.", code="MethodNotAllowed")
    else:
        error = errors.InvalidRequest(str(exc.detail), code="BadRequest")
    response = error_response(error)
    response.status_code = exc.status_code
    response.headers.update(exc.headers or {})
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        errors.ErrorDetail("InvalidRequestContent", f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
        for e in exc.errors()
    ]
    return error_response(
        errors.InvalidRequest("The request is invalid: " + "; ".join(d.message for d in details), details=details)
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return error_response(errors.Internal("Tether failed unexpectedly; the server log has the details."))


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.TetherError, _tether_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
