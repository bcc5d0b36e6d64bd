"""The Python client over Tether's REST API (httpx2): tokens, ARM calls, errors, long-running operations.

It is the only way the CLI reaches the server. Tokens come from the server's token endpoint with
the profile's client credentials and are reused until shortly before they expire.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

from tether.client.errors import ClientError, OperationFailed, ServerUnreachable
from tether.client.profile import Profile

API_VERSION = "2024-10-01"
_TERMINAL = {"Succeeded", "Failed", "Canceled"}


class TetherClient:
    """Synchronous client for one server and principal."""

    def __init__(self, profile: Profile, *, timeout: float = 30.0, transport: httpx2.BaseTransport | None = None):
        self.profile = profile
        self._http = httpx2.Client(
            base_url=profile.server,
            verify=ssl.create_default_context(cafile=profile.ca_file) if profile.ca_file else True,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "tether-cli"},
        )
        self._token: tuple[str, float] | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TetherClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> httpx2.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx2.ConnectError as e:
            raise ServerUnreachable(
                f"Cannot reach the Tether server at {self.profile.server}: {e}. Is it running (tether server)?",
                code="ServerUnreachable",
            ) from e
        except httpx2.TimeoutException as e:
            raise ServerUnreachable(f"The Tether server at {self.profile.server} did not answer in time.") from e

    def access_token(self) -> str:
        if self._token is not None and self._token[1] - 60 > time.time():
            return self._token[0]
        response = self._send(
            "POST",
            f"/{self.profile.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.profile.client_id,
                "client_secret": self.profile.client_secret,
                "scope": f"{self.profile.server.rstrip('/')}/.default",
            },
        )
        if response.status_code != 200:
            body = _json(response)
            if isinstance(body.get("error"), dict):
                raise error_from(response)
            raise ClientError(
                f"Login failed: {body.get('error_description') or response.text}",
                code=str(body.get("error") or "LoginFailed"),
                status=response.status_code,
            )
        body = response.json()
        self._token = (body["access_token"], time.time() + float(body["expires_in"]))
        return self._token[0]

    def request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> httpx2.Response:
        """An authenticated ARM call; raises ``ClientError`` carrying the server's ARM error."""
        query = {"api-version": API_VERSION, **(params or {})}
        response = self._send(
            method, path, params=query, json=json, headers={"Authorization": f"Bearer {self.access_token()}"}
        )
        if response.status_code >= 400:
            raise error_from(response)
        return response

    def stream_lines(self, path: str, *, params: dict[str, str] | None = None) -> Iterator[str]:
        """A streamed text answer, line by line (job logs); ``ClientError`` with the ARM error otherwise."""
        query = {"api-version": API_VERSION, **(params or {})}
        headers = {"Authorization": f"Bearer {self.access_token()}"}
        try:
            with self._http.stream("GET", path, params=query, headers=headers, timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_from(response)
                yield from response.iter_lines()
        except httpx2.TransportError as e:
            raise ServerUnreachable(f"The log stream from {self.profile.server} broke: {e}") from e

    # --- resources ----------------------------------------------------------------------------
    def get(self, resource_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", resource_id).json()
        return result

    def list(self, collection_path: str) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``nextLink``."""
        response = self.request("GET", collection_path)
        while True:
            body = response.json()
            yield from body.get("value", [])
            next_link = body.get("nextLink")
            if not next_link:
                return
            response = self._send("GET", next_link, headers={"Authorization": f"Bearer {self.access_token()}"})
            if response.status_code >= 400:
                raise error_from(response)

    def put(self, resource_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """PUT a resource; returns its body and the operation URL when the server runs it in the background."""
        response = self.request("PUT", resource_id, json=body)
        return response.json(), response.headers.get("Azure-AsyncOperation")

    def post(self, path: str, body: Any = None, *, params: dict[str, str] | None = None) -> dict[str, Any]:
        """POST an action (``<scope>/providers/<Namespace>/<action>``) or a Graph call; returns the JSON answer."""
        response = self.request("POST", path, params=params, json=body)
        if not response.content:
            return {}
        result: dict[str, Any] = response.json()
        return result

    def delete(self, resource_id: str, *, params: dict[str, str] | None = None) -> str | None:
        """DELETE a resource; returns the operation URL when the delete runs in the background."""
        response = self.request("DELETE", resource_id, params=params)
        operation: str | None = response.headers.get("Azure-AsyncOperation")
        return operation

    def wait(
        self,
        operation_url: str,
        *,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
        timeout: float = 600,
    ) -> dict[str, Any]:
        """Poll an operation until it ends; ``OperationFailed`` with its error unless it Succeeded."""
        deadline = time.monotonic() + timeout
        while True:
            response = self._send("GET", operation_url, headers={"Authorization": f"Bearer {self.access_token()}"})
            if response.status_code >= 400:
                raise error_from(response)
            status: dict[str, Any] = response.json()
            if on_poll is not None:
                on_poll(status)
            if status.get("status") in _TERMINAL:
                break
            if time.monotonic() > deadline:
                raise ClientError(
                    f"Gave up waiting after {timeout:.0f} s; the operation is still running.", code="Timeout"
                )
            time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0) * 0.25)
        if status["status"] != "Succeeded":
            error = status.get("error") or {}
            raise OperationFailed(
                error.get("message", f"The operation ended {status['status']}."),
                code=error.get("code", status["status"]),
                details=error.get("details") or [],
            )
        return status


def _json(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def error_from(response: httpx2.Response) -> ClientError:
    error = _json(response).get("error")
    if isinstance(error, dict):
        return ClientError(
            str(error.get("message", "")),
            code=str(error.get("code", response.status_code)),
            status=response.status_code,
            details=list(error.get("details") or []),
        )
    return ClientError(f"HTTP {response.status_code}: {response.text[:500]}", status=response.status_code)
