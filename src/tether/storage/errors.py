"""Blob endpoint errors in Azure Storage's form: an XML ``<Error>`` body, ``x-ms-error-code`` and a request id.

The SDK reads ``x-ms-error-code`` (and the body's ``Code``) into ``StorageErrorCode``, so these codes
must be Azure's: ``NoAuthenticationInformation`` and ``InvalidAuthenticationInfo`` (401),
``AuthorizationPermissionMismatch`` (403), ``ResourceNotFound`` / ``AccountNotFound`` (404). Azure's
message comes first, as Azure words it; Tether's explanation (who lacks which permission on which
scope, and the fix) follows in ``AuthenticationErrorDetail`` or after the request id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from xml.sax.saxutils import escape

from starlette.responses import Response

PERMISSION_MISMATCH = "This request is not authorized to perform this operation using this permission."
NO_AUTHENTICATION = (
    "Server failed to authenticate the request. Please refer to the information in the www-authenticate header."
)


def storage_error(
    status: int,
    code: str,
    message: str,
    *,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    head: bool = False,
) -> Response:
    """An Azure Storage error response; ``head`` leaves the body out (HEAD answers carry none)."""
    request_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    text = f"{message}\nRequestId:{request_id}\nTime:{now}"
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{escape(text)}</Message>'
    if detail:
        body += f"<AuthenticationErrorDetail>{escape(detail)}</AuthenticationErrorDetail>"
    body += "</Error>"
    all_headers = {
        "x-ms-request-id": request_id,
        "x-ms-error-code": code,
        "x-ms-version": "2021-08-06",
        **(headers or {}),
    }
    if head:
        return Response(status_code=status, headers=all_headers)
    return Response(body, status_code=status, headers=all_headers, media_type="application/xml")
