"""Kubernetes failures as Tether errors, and the small lightkube helpers that translate them.

Every Kubernetes failure leaves ``tether.kube`` as a ``tether.errors`` type chained with ``from e``:
``Unavailable`` (code ``ClusterNotReachable``) when retrying may help, otherwise ``InvalidRequest``,
``NotFound``, ``Conflict`` or ``Internal`` (``ClusterUnauthorized`` for 401/403). ``kube_call`` wraps a
block of lightkube calls; ``get_or_none`` reads one object, ``None`` when it does not exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError

from tether.errors import Conflict, Internal, InvalidRequest, NotFound, TetherError, Unavailable

KUBE_ERRORS = (httpx2.HTTPError,)
"""What a lightkube call raises (``ApiError`` is an ``httpx2.HTTPStatusError``); pass it to ``kube_error``."""


def kube_error(error: Exception, *, doing: str) -> TetherError:
    """Translate a lightkube/httpx2 failure while ``doing`` something into Tether's error hierarchy."""
    if isinstance(error, ApiError):
        code, text = error.status.code or 0, error.status.message or str(error)
        message = f"{doing}: the Kubernetes API server answered {code}: {text}"
        if code in (401, 403):
            return Internal(
                f"{message}. The cluster credentials lack a permission the ML extension needs.",
                code="ClusterUnauthorized",
            )
        if code == 404:
            return NotFound(message)
        if code == 409:
            return Conflict(message)
        if code in (400, 422):
            return InvalidRequest(message)
        if code in (408, 429) or code >= 500:
            return Unavailable(f"{message}. Retry later.", code="ClusterNotReachable")
        return Internal(message)
    if isinstance(error, httpx2.TransportError):
        return Unavailable(
            f"{doing}: the Kubernetes API server cannot be reached ({type(error).__name__}: {error}). Retry later.",
            code="ClusterNotReachable",
        )
    return Internal(f"{doing}: {type(error).__name__}: {error}")


@asynccontextmanager
async def kube_call(doing: str) -> AsyncIterator[None]:
    """Raise what the block's lightkube calls raise as Tether errors (``kube_error``)."""
    try:
        yield
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=doing) from e


def is_not_found(error: httpx2.HTTPError) -> bool:
    """Whether ``error`` is the API server's 404."""
    return isinstance(error, ApiError) and error.status.code == 404


async def get_or_none(client: AsyncClient, res: Any, name: str, *, namespace: str | None = None) -> Any:
    """The object, or ``None`` if the API server answers 404."""
    where = f"{namespace}/{name}" if namespace else name
    async with kube_call(f"reading {res.__name__} {where}"):
        try:
            return await client.get(res, name, namespace=namespace)
        except ApiError as e:
            if e.status.code == 404:
                return None
            raise
