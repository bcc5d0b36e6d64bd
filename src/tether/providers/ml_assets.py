"""Azure ML assets a job refers to: environments and code (containers and their versions).

- **Environment versions** hold a container image (``properties.image``); a job's ``environmentId``
  names one, and its image is what the job's pods run. Anonymous ones
  (``CliV2AnonymousEnvironment/versions/<sha256>``) are what the SDK writes for
  ``Environment(image=...)``. Tether builds no images: ``build`` and ``condaFile`` are refused.
- **Code versions** point at a snapshot in the workspace's storage (``codeUri``); a job's ``codeId``
  names one and the pods download it into their working directory. ``startPendingUpload`` gives the
  SDK a fresh container of the workspace's default storage account and a SAS for it, signed by
  Tether (``racwl`` for one hour); the SDK uploads through Tether's blob endpoint.

A version's container (``environments/<name>``, ``codes/<name>``) is written with its first version, as
Azure does. A version's content never changes: a PUT of different content is refused (``UserError``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.models.assets import (
    VERSION_MUTABLE,
    AssetContainerRecord,
    VersionRecord,
    version_record_type,
)
from tether.domain.models.datastores import DatastoreRecord, default_datastore
from tether.domain.names import validate_name
from tether.domain.resources import Resource
from tether.domain.states import ProvisioningState
from tether.errors import InvalidRequest, NotFound
from tether.protocol.answers import AssetAnswer, read_answer
from tether.protocol.ml_assets import (
    CodeVersionRequest,
    ContainerRequest,
    EnvironmentVersionRequest,
    PendingUploadRequest,
    asset_properties,
)
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.blob_engine import BlobEngine
from tether.providers.envelope import envelope, parse_body
from tether.providers.reads import read_page, read_row
from tether.providers.workspaces import not_found as workspace_not_found
from tether.store import Session, resources

UPLOAD_SAS_LIFETIME = dt.timedelta(hours=1)
_READ_ONLY = {"provisioningState", "environmentType", "latestVersion", "nextVersion"}
_KIND = {
    rt.ENVIRONMENTS: "environment",
    rt.CODES: "code",
    rt.ENVIRONMENT_VERSIONS: "environment",
    rt.CODE_VERSIONS: "code",
}


def _record(row: Resource) -> AssetContainerRecord | VersionRecord:
    if row.type.lower() in (rt.ENVIRONMENTS.lower(), rt.CODES.lower()):
        return resources.read_properties(row, AssetContainerRecord)
    return resources.read_properties(row, version_record_type(row.type))


def answer(row: Resource) -> dict[str, Any]:
    body = envelope(row, properties=asset_properties(_record(row), provisioning_state=row.provisioning_state))
    body.pop("location", None)
    return body


def not_found(resource_id: ResourceId) -> NotFound:
    kind = _KIND.get(resource_id.full_type, "asset")
    if resource_id.full_type in (rt.ENVIRONMENT_VERSIONS, rt.CODE_VERSIONS) and resource_id.parent is not None:
        what = f"{kind} '{resource_id.parent.name}' version '{resource_id.name}'"
    else:
        what = f"{kind} '{resource_id.name}'"
    return NotFound(f"The {what} could not be found in this workspace.", code="UserError")


def _workspace_of(resource_id: ResourceId) -> ResourceId:
    workspace = resource_id
    while workspace.full_type != rt.WORKSPACES:
        assert workspace.parent is not None
        workspace = workspace.parent
    return workspace


def _asset_tags(item: dict[str, Any]) -> dict[str, Any]:
    return read_answer(AssetAnswer, item, what="asset").properties.properties


def _view_filter(params: Mapping[str, str]) -> Callable[[dict[str, Any]], bool]:
    view = {k.lower(): v for k, v in params.items()}.get("listviewtype", "ActiveOnly").lower()
    if view == "all":
        return lambda _item: True
    archived = view == "archivedonly"
    return lambda item: bool(read_answer(AssetAnswer, item, what="asset").properties.isArchived) == archived


class AssetContainers:
    """``environments/<name>`` and ``codes/<name>``: the named asset, its versions below it."""

    full_type: ClassVar[str]

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        page = await read_page(
            ctx, parent, self.full_type, offset=offset, limit=limit, render=answer, parent_missing=workspace_not_found
        )
        keep = _view_filter(params)
        return Page([i for i in page.items if keep(i)], page.more)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(ContainerRequest, body).properties
        validate_name(self.full_type, resource_id.name)
        changes = request.model_dump(exclude_none=True, exclude=_READ_ONLY)
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is not None:
                record = resources.read_properties(row, AssetContainerRecord)
                changed = AssetContainerRecord.from_stored({**record.to_stored(), **changes})
                row = await resources.update(session, row, properties=changed, principal_id=ctx.caller.object_id)
                return WriteResult(answer(row), created=False)
            if await resources.get(session, _workspace_of(resource_id)) is None:
                raise workspace_not_found(_workspace_of(resource_id))
            row = await _insert_container(session, ctx, resource_id, changes)
        return WriteResult(answer(row), created=True)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        return await _delete_tree(ctx, resource_id)


async def _delete_tree(ctx: RequestContext, resource_id: ResourceId) -> DeleteResult:
    """Delete an asset (a container takes its versions along); Azure archives instead, Tether also deletes."""
    async with ctx.store.transaction() as session:
        row = await resources.get(session, resource_id, for_update=True)
        if row is None:
            return DeleteResult(existed=False)
        await resources.delete_tree_by_key(session, row.key)
    return DeleteResult(existed=True)


class EnvironmentContainers(AssetContainers):
    full_type: ClassVar[str] = rt.ENVIRONMENTS


class CodeContainers(AssetContainers):
    full_type: ClassVar[str] = rt.CODES


async def _insert_container(
    session: Session, ctx: RequestContext, resource_id: ResourceId, properties: dict[str, Any]
) -> Resource:
    return await resources.insert(
        session,
        resource_id,
        location=None,
        tags={},
        identity=None,
        properties=AssetContainerRecord.from_stored(properties),
        state=ProvisioningState.SUCCEEDED,
        principal_id=ctx.caller.object_id,
    )


def _environment_properties(body: Any, _blob_url: str) -> dict[str, Any]:
    request = parse_body(EnvironmentVersionRequest, body).properties
    if request.build is not None or request.condaFile is not None:
        raise InvalidRequest(
            "Tether does not build images: an environment with a build context or a conda file cannot run. "
            "Build and push an image with those packages, then use Environment(image=<that image>).",
            code="UserError",
            target="properties.build" if request.build is not None else "properties.condaFile",
        )
    if request.image is None:
        raise InvalidRequest(
            "An environment needs an image (Environment(image=...)).", code="UserError", target="properties.image"
        )
    return {
        **request.model_dump(exclude_none=True, exclude=_READ_ONLY),
        "osType": request.osType or "Linux",
        "environmentType": "UserCreated",
    }


def snapshot_of(code_uri: str, blob_url: str) -> dict[str, str]:
    """``https://<blob host>/<account>/<container>/<path>`` → its account, container and blob prefix."""
    base = blob_url.rstrip("/") + "/"
    if not code_uri.startswith(base):
        raise InvalidRequest(
            f"codeUri '{code_uri}' is not in Tether's blob storage ({base}): upload code with the SDK "
            "(code='./src'), which asks for an upload location first.",
            code="UserError",
            target="properties.codeUri",
        )
    account, _, rest = code_uri[len(base) :].partition("/")
    container, _, prefix = rest.partition("/")
    if not account or not container:
        raise InvalidRequest(f"codeUri '{code_uri}' names no container.", code="UserError", target="properties.codeUri")
    return {"account": account, "container": container, "prefix": prefix.strip("/")}


def _code_properties(body: Any, blob_url: str) -> dict[str, Any]:
    request = parse_body(CodeVersionRequest, body).properties
    if request.codeUri is None:
        raise InvalidRequest("A code version needs its codeUri.", code="UserError", target="properties.codeUri")
    return {
        **request.model_dump(exclude_none=True, exclude=_READ_ONLY),
        "_snapshot": snapshot_of(request.codeUri, blob_url),
    }


_CONTENT = {rt.ENVIRONMENT_VERSIONS: _environment_properties, rt.CODE_VERSIONS: _code_properties}


class AssetVersions:
    """``environments/<name>/versions/<v>`` and ``codes/<name>/versions/<v>``."""

    full_type: ClassVar[str]

    def __init__(self, *, blob_url: str) -> None:
        self._blob_url = blob_url.rstrip("/")
        self._content = _CONTENT[self.full_type]
        self._record_type = version_record_type(self.full_type)

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        page = await read_page(ctx, parent, self.full_type, offset=offset, limit=limit, render=answer)
        keep = _view_filter(params)
        lowered = {k.lower(): v for k, v in params.items()}
        wanted_hash = lowered.get("hash")
        items = [i for i in page.items if keep(i)]
        if wanted_hash:
            items = [i for i in items if _asset_tags(i).get("hash_sha256") == wanted_hash]
        return Page(items, page.more)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        properties = self._content(body, self._blob_url)
        validate_name(self.full_type, resource_id.name)
        container_id = resource_id.parent
        assert container_id is not None
        validate_name(container_id.full_type, container_id.name)
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is not None:
                return WriteResult(await self._update(ctx, session, row, properties), created=False)
            if await resources.get(session, _workspace_of(resource_id)) is None:
                raise workspace_not_found(_workspace_of(resource_id))
            container = await resources.get(session, container_id, for_update=True)
            if container is None:
                container = await _insert_container(session, ctx, container_id, {})
            latest = resources.read_properties(container, AssetContainerRecord).model_copy(
                update={"latest_version": resource_id.name}
            )
            await resources.update(session, container, properties=latest)
            row = await resources.insert(
                session,
                resource_id,
                location=None,
                tags={},
                identity=None,
                properties=self._record_type.from_stored(properties),
                state=ProvisioningState.SUCCEEDED,
                principal_id=ctx.caller.object_id,
            )
        return WriteResult(answer(row), created=True)

    async def _update(
        self, ctx: RequestContext, session: Session, row: Resource, properties: dict[str, Any]
    ) -> dict[str, Any]:
        record = resources.read_properties(row, self._record_type)
        sent = self._record_type.from_stored(properties).to_stored()
        content = {k: v for k, v in sent.items() if k not in VERSION_MUTABLE and k != "isAnonymous"}
        stored = {k: v for k, v in record.to_stored().items() if k not in VERSION_MUTABLE and k != "isAnonymous"}
        if content != stored:
            changed = sorted(k for k in set(content) | set(stored) if content.get(k) != stored.get(k))
            raise InvalidRequest(
                f"Version '{row.name}' already exists with other content ({', '.join(changed)}); an asset "
                "version never changes: create a new version.",
                code="UserError",
            )
        changed_fields = {k: v for k, v in properties.items() if k in VERSION_MUTABLE}
        updated = self._record_type.from_stored({**record.to_stored(), **changed_fields})
        return answer(await resources.update(session, row, properties=updated, principal_id=ctx.caller.object_id))

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        return await _delete_tree(ctx, resource_id)


class EnvironmentVersions(AssetVersions):
    full_type: ClassVar[str] = rt.ENVIRONMENT_VERSIONS


class CodeVersions(AssetVersions):
    """Code versions, and ``POST .../codes/<name>/versions/<v>/startPendingUpload``: where the SDK may upload
    a code snapshot."""

    full_type: ClassVar[str] = rt.CODE_VERSIONS

    def __init__(self, *, engine: BlobEngine, blob_url: str) -> None:
        super().__init__(blob_url=blob_url)
        self._engine = engine

    async def start_pending_upload(self, ctx: RequestContext, version_id: ResourceId, body: Any) -> dict[str, Any]:
        request = parse_body(PendingUploadRequest, body if body is not None else {})
        workspace_id = _workspace_of(version_id)
        async with ctx.store.transaction() as session:
            if await resources.get(session, workspace_id) is None:
                raise workspace_not_found(workspace_id)
            datastores = await resources.list_children(session, workspace_id, rt.DATASTORES)
        default = default_datastore(resources.read_properties(d, DatastoreRecord) for d in datastores)
        if default is None:
            raise NotFound(
                f"Workspace '{workspace_id.name}' has no default datastore to upload code to.", code="UserError"
            )
        account = default.account_name
        container = f"code-{uuid.uuid4().hex}"
        await self._engine.create_container(account, container, metadata={"tetherasset": str(version_id.parent)})
        expiry = dt.datetime.now(dt.UTC) + UPLOAD_SAS_LIFETIME
        sas = await self._engine.container_sas(account, container, permissions="racwl", expiry=expiry)
        return {
            "blobReferenceForConsumption": {
                # The SDK joins blobUri with "<container>/<path>" into the version's codeUri.
                "blobUri": f"{self._blob_url}/{account}/",
                "storageAccountArmId": None,  # a datastore records its account's name, not its ARM id
                "credential": {"credentialType": "SAS", "sasUri": f"{self._blob_url}/{account}/{container}?{sas}"},
            },
            "pendingUploadId": request.pendingUploadId or uuid.uuid4().hex,
            "pendingUploadType": "TemporaryBlobReference",
        }
