"""Views of ARM answers as their readers (the CLI, the Studio, the demo) use them: only the fields read.

Each view is parsed once from an answered resource (``read_answer(JobAnswer, body, what=...)``) and then
read by attribute (``job.properties.status``) instead of by string keys. Views allow and keep every
field they do not name, so an answer with more in it still parses; a field a reader needs that the
answer lacks is an ``UnexpectedAnswer`` naming it (the client turns it into a ``ClientError``), never a
``KeyError``. The server builds its answers from the stored models (``protocol/<type>.py``); these views
never shape an answer, they only read one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from tether.errors import TetherError


@dataclass
class UnexpectedAnswer(TetherError):
    """An answer lacks a field its reader needs (or has it with the wrong type): a server/client mismatch."""

    code: str = "UnexpectedAnswer"


def _object_or_empty(value: Any) -> Any:
    return {} if value is None else value


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value


#: An object that may be absent or null in the answer; read as ``{}`` then.
OptionalObject = Annotated[dict[str, Any], BeforeValidator(_object_or_empty), Field(default_factory=dict)]


class _View(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


Properties = TypeVar("Properties")


class TypedAnswer(_View, Generic[Properties]):
    """A resource: its envelope, with ``properties`` read as ``Properties`` (a view per resource type)."""

    id: str
    name: str
    type: str | None = None
    properties: Properties


#: Any resource: its envelope, ``properties`` as a plain object (``{}`` when absent or null).
ResourceAnswer = TypedAnswer[OptionalObject]


class _StateProperties(_View):
    provisioningState: str | None = None  # noqa: N815 - ARM's field names


#: A resource whose ``properties.provisioningState`` is read (clusters, extensions...).
ProvisionedAnswer = TypedAnswer[_StateProperties]


class _ConnectedClusterProperties(_StateProperties):
    connectivityStatus: str | None = None  # noqa: N815


ConnectedClusterAnswer = TypedAnswer[_ConnectedClusterProperties]


class _ManagedClusterProperties(_StateProperties):
    kubernetesVersion: str | None = None  # noqa: N815


ManagedClusterAnswer = TypedAnswer[_ManagedClusterProperties]


class _ExtensionProperties(_StateProperties):
    extensionType: str  # noqa: N815
    releaseTrain: str | None = None  # noqa: N815
    scope: dict[str, Any] | None = None
    configurationSettings: OptionalObject  # noqa: N815
    health: OptionalObject
    instanceTypes: OptionalObject  # noqa: N815


ExtensionAnswer = TypedAnswer[_ExtensionProperties]


class _RegistryProperties(_View):
    loginServer: str  # noqa: N815


RegistryAnswer = TypedAnswer[_RegistryProperties]


class _WorkspaceProperties(_View):
    storageAccount: str | None = None  # noqa: N815


WorkspaceAnswer = TypedAnswer[_WorkspaceProperties]


class _Endpoints(_View):
    blob: str


class _StorageAccountProperties(_View):
    primaryEndpoints: _Endpoints  # noqa: N815


StorageAccountAnswer = TypedAnswer[_StorageAccountProperties]


class _JobProperties(_View):
    status: str
    computeId: str  # noqa: N815
    isArchived: bool = False  # noqa: N815
    timeline: Annotated[list[dict[str, Any]], BeforeValidator(_list_or_empty), Field(default_factory=list)]
    error: OptionalObject


JobAnswer = TypedAnswer[_JobProperties]


class _KubernetesComputeSettings(_View):
    namespace: str
    instanceTypes: OptionalObject  # noqa: N815


class _ComputeProperties(_StateProperties):
    computeType: str  # noqa: N815
    resourceId: str  # noqa: N815
    properties: _KubernetesComputeSettings


class ComputeAnswer(TypedAnswer[_ComputeProperties]):
    identity: OptionalObject


class _AssetProperties(_View):
    isArchived: bool | None = None  # noqa: N815
    properties: OptionalObject  # the asset's own string pairs (``hash_sha256``...)


#: A code or environment container or version (``ml_assets``).
AssetAnswer = TypedAnswer[_AssetProperties]


class _DatastoreProperties(_View):
    isDefault: bool | None = None  # noqa: N815


DatastoreAnswer = TypedAnswer[_DatastoreProperties]


class _StateColumn(_View):
    provisioningState: Any  # noqa: N815 - required: an item without one gets no column (null is a value)


class _TableItem(_View):
    properties: _StateColumn


def provisioning_state_column(item: dict[str, Any]) -> dict[str, Any]:
    """The ``provisioningState`` column az's table output adds for ``item``: ``{}`` when it has none.

    Any printed item qualifies (not only resources), so an item this view cannot read simply has no column.
    """
    try:
        return {"provisioningState": _TableItem.model_validate(item).properties.provisioningState}
    except ValidationError:
        return {}


AnswerView = TypeVar("AnswerView", bound=_View)


def _field_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "the body"


def read_answer(view: type[AnswerView], answer: Any, *, what: str) -> AnswerView:
    """``answer`` (a resource as the server answered it) read as ``view``; ``what`` names it in the error."""
    try:
        return view.model_validate(answer)
    except ValidationError as e:
        problem = e.errors()[0]
        raise UnexpectedAnswer(
            f"The server's answer for {what} has no usable '{_field_path(problem['loc'])}' ({problem['msg']}); "
            "the server and this client may be different versions: update the one that is older."
        ) from e
