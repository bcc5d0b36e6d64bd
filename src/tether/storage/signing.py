"""The account SAS Tether signs to forward OAuth-authorized requests to Azurite.

A request whose bearer token Tether has authorized reaches Azurite with the caller's token removed
and an account SAS of the account's own key appended, so Azurite serves it without knowing of
tokens. The string to sign is the documented account-SAS format of service version 2020-12-06 and
later (it ends with the encryption scope line); tests/unit/test_blob_signing.py checks it against
azure-storage-blob's ``generate_account_sas``.

Hazard: the SAS grants everything on the account; it must only ever be added after an allow.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from urllib.parse import urlencode

SAS_VERSION = "2021-08-06"
_FULL_PERMISSIONS = "rwdlacupitfx"


def sign(key: str, string_to_sign: str) -> str:
    digest = hmac.new(base64.b64decode(key), string_to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def account_sas(
    *,
    account: str,
    key: str,
    expiry: dt.datetime,
    permissions: str = _FULL_PERMISSIONS,
    resource_types: str = "sco",
    services: str = "b",
    start: dt.datetime | None = None,
    version: str = SAS_VERSION,
) -> str:
    """The query string of an account SAS (``sv=...&sig=...``), signed with ``key``."""
    iso = "%Y-%m-%dT%H:%M:%SZ"
    fields = {
        "sv": version,
        "ss": services,
        "srt": resource_types,
        "sp": permissions,
        "st": start.astimezone(dt.UTC).strftime(iso) if start else "",
        "se": expiry.astimezone(dt.UTC).strftime(iso),
        "spr": "https,http",  # Azurite is reached over loopback HTTP
    }
    string_to_sign = "\n".join(
        [
            account,
            fields["sp"],
            fields["ss"],
            fields["srt"],
            fields["st"],
            fields["se"],
            "",  # signed IP range
            fields["spr"],
            fields["sv"],
            "",  # encryption scope
            "",
        ]
    )
    query = {k: v for k, v in fields.items() if v}
    query["sig"] = sign(key, string_to_sign)
    return urlencode(query)


def container_sas(
    *,
    account: str,
    container: str,
    key: str,
    expiry: dt.datetime,
    permissions: str,
    start: dt.datetime | None = None,
    version: str = SAS_VERSION,
) -> str:
    """The query string of a service SAS for one container (``sr=c``): only that container, only ``permissions``
    (in Azure's order, e.g. ``racwl``), until ``expiry``. The string to sign is the documented service-SAS
    format of version 2020-12-06 and later; tests/unit/test_blob_signing.py checks it against azure-storage-blob's
    ``generate_container_sas``."""
    iso = "%Y-%m-%dT%H:%M:%SZ"
    fields = {
        "sv": version,
        "sp": permissions,
        "st": start.astimezone(dt.UTC).strftime(iso) if start else "",
        "se": expiry.astimezone(dt.UTC).strftime(iso),
        "spr": "https,http",
        "sr": "c",
    }
    string_to_sign = "\n".join(
        [
            fields["sp"],
            fields["st"],
            fields["se"],
            f"/blob/{account}/{container}",
            "",  # signed identifier (stored access policy)
            "",  # signed IP range
            fields["spr"],
            fields["sv"],
            fields["sr"],
            "",  # snapshot time
            "",  # encryption scope
            "",  # rscc
            "",  # rscd
            "",  # rsce
            "",  # rscl
            "",  # rsct
        ]
    )
    query = {k: v for k, v in fields.items() if v}
    query["sig"] = sign(key, string_to_sign)
    return urlencode(query)
