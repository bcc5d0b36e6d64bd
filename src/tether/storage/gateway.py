"""The blob endpoint: every request to ``https://<blob host>/<account>/...`` is authenticated, decided, forwarded.

Two URL styles name the account: path-style (the first path segment, any host) and virtual-host style
(``Host: <account>.blob.<dns suffix>``, what azure-ai-ml builds from the cloud's storage suffix). A
virtual-host request reaches Azurite with its ``Host``, so Azurite reads the account from it and checks
a Shared Key signature over ``/<account>/<container>/...`` as Azure does.

- **Bearer token** (Tether-issued, audience ``https://storage.azure.com``): the request's permission
  (``tether.domain.blob_requests``) is decided by the same authorizer as ARM, at the container's
  scope (or the blob service's). Allowed: forwarded to the account's Azurite with the token removed and
  an account SAS of the account key added. Denied: 403 ``AuthorizationPermissionMismatch``.
- **Shared Key** or **account/service SAS**: forwarded unchanged; Azurite, holding the same account
  name and keys, checks the signature and the SAS's permissions and expiry, as Azure would.
- **Nothing**: 401 ``NoAuthenticationInformation`` with the bearer challenge (Tether has no public
  containers).

Hazards: the appended SAS grants everything, so it is added only after an allow; user-delegation SAS
(``skoid``) is refused with a clear message (not implemented).
"""

from __future__ import annotations

import datetime as dt

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.authz.service import Authorizer
from tether.domain.blob_requests import BlobRequest, Permission, parse_blob_path, permission_for
from tether.domain.principals import Caller
from tether.domain.roles import STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_OWNER, STORAGE_BLOB_DATA_READER
from tether.errors import Forbidden, NotFound, TetherError, Unauthenticated, Unavailable
from tether.identity.tokens import TokenService
from tether.storage.accounts import AccountDirectory, StoredAccount
from tether.storage.azurite import AzuritePool
from tether.storage.errors import NO_AUTHENTICATION, PERMISSION_MISMATCH, storage_error
from tether.storage.forward import forward, upstream_client
from tether.storage.signing import account_sas

STORAGE_AUDIENCE = "https://storage.azure.com"
_AUDIENCES = [STORAGE_AUDIENCE, STORAGE_AUDIENCE + "/"]
_SAS_LIFETIME = dt.timedelta(hours=12)


_AUTHENTICATION_FAILED = (
    "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly "
    "including the signature."
)


def _sas_time(text: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _outside_sas_window(request: Request) -> str | None:
    """Azure's detail when a SAS is not yet valid or has expired, else None."""
    now = dt.datetime.now(dt.UTC)
    expiry = _sas_time(request.query_params.get("se", ""))
    start = _sas_time(request.query_params.get("st", ""))
    stamp = "%a, %d %b %Y %H:%M:%S GMT"
    if expiry is not None and expiry < now:
        return f"Signed expiry time [{expiry.strftime(stamp)}] must be after current time [{now.strftime(stamp)}]"
    if start is not None and start > now:
        return f"Signed start time [{start.strftime(stamp)}] must be before current time [{now.strftime(stamp)}]"
    return None


def suggested_role(permission: Permission) -> str:
    for role in (STORAGE_BLOB_DATA_READER, STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_OWNER):
        if role.allows(permission.action, data=permission.data):
            return role.name
    return STORAGE_BLOB_DATA_OWNER.name


class BlobGateway:
    def __init__(
        self,
        *,
        tokens: TokenService,
        authorizer: Authorizer,
        accounts: AccountDirectory,
        engines: AzuritePool,
        authority: str,
        virtual_host_suffix: str,
    ) -> None:
        self._tokens = tokens
        self._virtual_host_suffix = virtual_host_suffix.lower()
        self._authorizer = authorizer
        self.accounts = accounts
        self.engines = engines
        self._authority = authority
        self.http = upstream_client()
        self._sas: dict[tuple[str, str], tuple[str, dt.datetime]] = {}

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.engines.aclose()

    def full_access_sas(self, account: StoredAccount) -> str:
        """An account SAS for Azurite, signed anew when half its lifetime has passed (or the key changed)."""
        now = dt.datetime.now(dt.UTC)
        cache_key = (account.keys.name, account.keys.key1)
        known = self._sas.get(cache_key)
        if known is None or known[1] - now < _SAS_LIFETIME / 2:
            expiry = now + _SAS_LIFETIME
            known = (account_sas(account=account.keys.name, key=account.keys.key1, expiry=expiry), expiry)
            self._sas[cache_key] = known
        return known[0]

    def virtual_host(self, request: Request) -> tuple[str, str] | None:
        """``(account, Host)`` when the request names its account in the host (``<account>.blob.<suffix>``)."""
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host  # [::1]:port is never a virtual host
        account = name.lower().removesuffix(self._virtual_host_suffix)
        if account == name.lower() or not account or "." in account:
            return None
        return account, host

    async def handle(self, request: Request) -> Response:
        head = request.method == "HEAD"
        virtual = self.virtual_host(request)
        path = request.scope["path"]
        target = parse_blob_path(f"/{virtual[0]}{path}" if virtual else path)
        if target is None:
            return storage_error(400, "InvalidUri", "The requested URI does not name a storage account.", head=head)
        account = await self.accounts.find(target.account)
        if account is None:
            return storage_error(
                404,
                "ResourceNotFound",
                "The specified resource does not exist.",
                detail=f"There is no storage account '{target.account}'. Create it with: "
                f"tether storage account create -n {target.account} -g <resource group>",
                head=head,
            )
        try:
            return await self._dispatch(request, target, account, head=head, virtual_host=virtual and virtual[1])
        except Unavailable as e:
            return storage_error(
                503, "ServerBusy", "The server is currently unable to receive requests.", detail=e.message, head=head
            )
        except TetherError as e:  # e.g. a sealed key that no longer opens: Azure's shape, never a traceback
            return storage_error(
                500, "InternalError", "The server encountered an internal error.", detail=e.message, head=head
            )
        except httpx2.HTTPError as e:
            return storage_error(
                503,
                "ServerBusy",
                "The server is currently unable to receive requests.",
                detail=f"The blob engine did not answer: {e!r}",
                head=head,
            )

    async def _dispatch(
        self, request: Request, target: BlobRequest, account: StoredAccount, *, head: bool, virtual_host: str | None
    ) -> Response:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return await self._bearer(request, target, account, token.strip(), head=head, virtual_host=virtual_host)
        if "skoid" in request.query_params:
            return storage_error(
                403,
                "AuthenticationFailed",
                _AUTHENTICATION_FAILED,
                detail="User delegation SAS is not supported by Tether yet; use an account SAS or a bearer token.",
                head=head,
            )
        if "sig" in request.query_params and (outside := _outside_sas_window(request)) is not None:
            # Azurite says AuthorizationFailure here; Azure says AuthenticationFailed, which the SDK maps
            # to ClientAuthenticationError, so Tether answers as Azure does.
            return storage_error(403, "AuthenticationFailed", _AUTHENTICATION_FAILED, detail=outside, head=head)
        if authorization or "sig" in request.query_params:
            upstream = await self.engines.url_of(account.keys)
            answer = await forward(self.http, request, upstream=upstream, virtual_host=virtual_host)
            if answer.status_code == 403 and answer.headers.get("x-ms-error-code") == "AuthorizationFailure":
                # Azurite's word for a signature that does not match; Azure's is AuthenticationFailed.
                if answer.background is not None:
                    await answer.background()
                return storage_error(
                    403,
                    "AuthenticationFailed",
                    _AUTHENTICATION_FAILED,
                    detail="The MAC signature found in the HTTP request is not the same as any computed signature.",
                    head=head,
                )
            return answer
        return storage_error(
            401,
            "NoAuthenticationInformation",
            NO_AUTHENTICATION,
            detail="The request carries no credentials: send a bearer token for https://storage.azure.com, "
            "a Shared Key signature or a SAS.",
            headers={"WWW-Authenticate": await self._challenge(account)},
            head=head,
        )

    async def _challenge(self, account: StoredAccount) -> str:
        """Azure's bearer challenge: where to get a token, and for which resource."""
        tenant = await self._authorizer.tenant_of(account.resource_id.subscription_id) or "common"
        return f"Bearer authorization_uri={self._authority}/{tenant}/oauth2/authorize resource_id={STORAGE_AUDIENCE}"

    async def _bearer(
        self,
        request: Request,
        target: BlobRequest,
        account: StoredAccount,
        token: str,
        *,
        head: bool,
        virtual_host: str | None,
    ) -> Response:
        try:
            caller = await self._tokens.authenticate(token, audiences=_AUDIENCES)
        except Unauthenticated as e:
            return storage_error(
                401,
                "InvalidAuthenticationInfo",
                NO_AUTHENTICATION,
                detail=e.message,
                headers={"WWW-Authenticate": await self._challenge(account)},
                head=head,
            )
        permission = permission_for(target, method=request.method, query=dict(request.query_params))
        scope = account.container(target.container) if target.container else account.blob_service()
        try:
            await self._authorizer.authorize(caller, permission.action, scope, data=permission.data)
        except (Forbidden, NotFound, Unauthenticated) as e:
            return self._denied(caller, permission, scope=str(scope), error=e, head=head)
        upstream = await self.engines.url_of(account.keys)
        return await forward(
            self.http,
            request,
            upstream=upstream,
            extra_query=self.full_access_sas(account),
            drop_authorization=True,
            virtual_host=virtual_host,
        )

    def _denied(
        self, caller: Caller, permission: Permission, *, scope: str, error: TetherError, head: bool
    ) -> Response:
        kind = "data action" if permission.data else "action"
        detail = (
            f"The {caller.describe()} does not have {kind} '{permission.action}' over scope '{scope}'. "
            f"Grant it with: tether role assignment create --assignee {caller.object_id} "
            f'--role "{suggested_role(permission)}" --scope {scope}'
        )
        if not isinstance(error, Forbidden):
            detail = f"{error.message} {detail}"
        return storage_error(403, "AuthorizationPermissionMismatch", PERMISSION_MISMATCH, detail=detail, head=head)


def create_blob_app(gateway: BlobGateway) -> Starlette:
    """The blob endpoint's ASGI app: one route, every method, every path."""
    methods = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", gateway.handle, methods=methods)])
