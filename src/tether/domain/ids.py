"""ARM resource ids: parsed and validated in exactly one place.

An id is a subscription, an optional resource group, and a chain of provider segments
(``/providers/<Namespace>/<type>/<name>[/<childType>/<childName>...]``). A second provider segment
makes an *extension resource* of the resource before it (an ML extension on a cluster, a role
assignment on any scope). Namespaces and types compare case-insensitively and print canonically;
names keep their case for display and compare case-insensitively through ``key``.

Hazards: the seed writes ids without the leading slash and with lower-case types; both parse. Every
parse failure is an ``InvalidRequest`` with code ``InvalidResourceId`` saying which part is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tether.domain.resource_types import RESOURCE_GROUPS, canonical_namespace, canonical_type
from tether.errors import InvalidRequest

SUBSCRIPTIONS = "Microsoft.Resources/subscriptions"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SEGMENT = re.compile(r"[^\s\x00-\x1f\x7f/?#%\\]{1,260}")
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$")
_EXPECTED = "/subscriptions/<subscription>/resourceGroups/<group>/providers/<Namespace>/<type>/<name>"


def _invalid(text: str, problem: str) -> InvalidRequest:
    return InvalidRequest(
        f"'{text}' is not a valid resource id: {problem}. Expected the form {_EXPECTED}.",
        code="InvalidResourceId",
    )


@dataclass(frozen=True)
class ProviderSegment:
    """``/providers/<namespace>/<type>/<name>[/<type>/<name>...]`` inside an id."""

    namespace: str
    pairs: tuple[tuple[str, str], ...]

    @property
    def full_type(self) -> str:
        return "/".join([self.namespace, *(t for t, _ in self.pairs)])


@dataclass(frozen=True)
class ResourceId:
    """A parsed, canonically spelled ARM id of a subscription, resource group or resource."""

    subscription_id: str
    resource_group: str | None = None
    segments: tuple[ProviderSegment, ...] = ()

    def __post_init__(self) -> None:
        if self.segments and any(not s.pairs for s in self.segments):
            raise ValueError("a provider segment needs at least one type/name pair")

    # --- what it is -------------------------------------------------------------------------
    @property
    def full_type(self) -> str:
        """``Microsoft.MachineLearningServices/workspaces/computes`` and the like."""
        if self.segments:
            return self.segments[-1].full_type
        return RESOURCE_GROUPS if self.resource_group is not None else SUBSCRIPTIONS

    @property
    def name(self) -> str:
        if self.segments:
            return self.segments[-1].pairs[-1][1]
        return self.resource_group if self.resource_group is not None else self.subscription_id

    @property
    def namespace(self) -> str | None:
        return self.segments[-1].namespace if self.segments else None

    @property
    def key(self) -> str:
        """The case-insensitive identity of this id: use it for lookups and comparisons."""
        return str(self).lower()

    # --- navigation -------------------------------------------------------------------------
    @property
    def parent(self) -> ResourceId | None:
        """The enclosing scope: child → parent resource, extension → extended resource, etc."""
        if self.segments:
            last = self.segments[-1]
            if len(last.pairs) > 1:
                trimmed = ProviderSegment(last.namespace, last.pairs[:-1])
                return ResourceId(self.subscription_id, self.resource_group, (*self.segments[:-1], trimmed))
            return ResourceId(self.subscription_id, self.resource_group, self.segments[:-1])
        if self.resource_group is not None:
            return ResourceId(self.subscription_id)
        return None

    def scopes(self) -> list[ResourceId]:
        """Every scope from the subscription down to this id itself, outermost first."""
        chain: list[ResourceId] = []
        current: ResourceId | None = self
        while current is not None:
            chain.append(current)
            current = current.parent
        return chain[::-1]

    def child(self, type_: str, name: str) -> ResourceId:
        """The id of a child resource (``workspace.child("computes", "c1")``)."""
        if not self.segments:
            raise ValueError(f"{self} has no provider segment to add a child to")
        last = self.segments[-1]
        grown = ProviderSegment(last.namespace, (*last.pairs, (type_, name)))
        return ResourceId(self.subscription_id, self.resource_group, (*self.segments[:-1], grown))

    def extension(self, namespace: str, type_: str, name: str) -> ResourceId:
        """The id of an extension resource on this one, e.g. an ML extension on a cluster."""
        segment = ProviderSegment(namespace, ((type_, name),))
        return ResourceId(self.subscription_id, self.resource_group, (*self.segments, segment))

    def is_within(self, scope: ResourceId) -> bool:
        """True when ``scope`` is this id or one of its ancestors."""
        mine, theirs = self.key, scope.key
        return mine == theirs or mine.startswith(theirs + "/")

    # --- text -------------------------------------------------------------------------------
    def __str__(self) -> str:
        parts = ["", "subscriptions", self.subscription_id]
        if self.resource_group is not None:
            parts += ["resourceGroups", self.resource_group]
        for segment in self.segments:
            parts += ["providers", segment.namespace]
            for type_, name in segment.pairs:
                parts += [type_, name]
        return "/".join(parts)

    @classmethod
    def subscription(cls, subscription_id: str) -> ResourceId:
        return cls(subscription_id)

    @classmethod
    def group(cls, subscription_id: str, resource_group: str) -> ResourceId:
        return cls(subscription_id, resource_group)

    @classmethod
    def resource(cls, subscription_id: str, resource_group: str | None, full_type: str, *names: str) -> ResourceId:
        """Build from a full type and one name per type level."""
        namespace, *types = full_type.split("/")
        if len(types) != len(names) or not types:
            raise ValueError(f"{full_type} needs {len(types)} names, got {len(names)}")
        return cls(
            subscription_id,
            resource_group,
            (ProviderSegment(namespace, tuple(zip(types, names, strict=True))),),
        )


@dataclass(frozen=True)
class ArmPath:
    """A request path: a resource, a collection of a type under a parent scope, or an action on a resource."""

    scope: ResourceId
    collection_type: str | None = None  # full type when the path lists a collection
    action: str | None = None  # trailing POST action name

    @property
    def resource_id(self) -> ResourceId:
        if self.collection_type is not None:
            raise ValueError("a collection path has no single resource id")
        return self.scope


def _canonical_segment(namespace: str, pairs: list[tuple[str, str]]) -> ProviderSegment:
    canonical_ns = canonical_namespace(namespace) or namespace
    full = canonical_type("/".join([namespace, *(t for t, _ in pairs)]))
    types = full.split("/")[1:] if full else [t for t, _ in pairs]
    return ProviderSegment(canonical_ns, tuple((t, n) for t, (_, n) in zip(types, pairs, strict=True)))


def _tokens(text: str) -> list[str]:
    # No whitespace trimming: 'rg1\t' must not silently address 'rg1'.
    if not text.strip():
        raise _invalid(text, "it is empty")
    if "//" in text.rstrip("/"):
        raise _invalid(text, "it has an empty segment ('//')")
    return text.strip("/").split("/")


def _check_name(text: str, token: str, what: str) -> str:
    if not _SEGMENT.fullmatch(token):
        raise _invalid(text, f"{what} '{token}' is empty, too long or contains whitespace or one of / ? # % \\")
    return token


def parse_path(text: str) -> ArmPath:
    """Parse a request path or resource id; a trailing type without a name is a collection."""
    tokens = _tokens(text)
    if len(tokens) < 2 or tokens[0].lower() != "subscriptions":
        raise _invalid(text, "it must start with /subscriptions/<subscription id>")
    subscription_id = tokens[1]
    if not _GUID.fullmatch(subscription_id):
        raise _invalid(text, f"subscription '{subscription_id}' is not a GUID")
    i, n = 2, len(tokens)
    resource_group: str | None = None
    if i < n and tokens[i].lower() == "resourcegroups":
        if i + 1 == n:
            return ArmPath(ResourceId(subscription_id), collection_type=RESOURCE_GROUPS)
        resource_group = _check_name(text, tokens[i + 1], "resource group")
        i += 2
    segments: list[ProviderSegment] = []
    while i < n:
        if tokens[i].lower() != "providers":
            raise _invalid(text, f"expected 'providers' where '{tokens[i]}' is")
        if i + 1 >= n or not _NAMESPACE.fullmatch(tokens[i + 1]):
            raise _invalid(text, "'providers' must be followed by a namespace such as Microsoft.ContainerService")
        namespace, i = tokens[i + 1], i + 2
        pairs: list[tuple[str, str]] = []
        while i < n and tokens[i].lower() != "providers":
            type_ = _check_name(text, tokens[i], "type")
            if i + 1 == n:  # a type with no name: a collection (or an action, decided by the caller)
                scope = ResourceId(subscription_id, resource_group, tuple(segments))
                if pairs:
                    scope = ResourceId(
                        subscription_id, resource_group, (*segments, _canonical_segment(namespace, pairs))
                    )
                full = "/".join([namespace, *(t for t, _ in pairs), type_])
                return ArmPath(scope, collection_type=canonical_type(full) or full)
            pairs.append((type_, _check_name(text, tokens[i + 1], f"{type_} name")))
            i += 2
        if not pairs:
            raise _invalid(text, f"namespace {namespace} is not followed by a type and a name")
        segments.append(_canonical_segment(namespace, pairs))
    return ArmPath(ResourceId(subscription_id, resource_group, tuple(segments)))


def parse_resource_id(text: str) -> ResourceId:
    """Parse a full resource id (leading slash optional, as the seed writes identity ids)."""
    path = parse_path(text if text.startswith("/") else "/" + text)
    if path.collection_type is not None:
        raise _invalid(text, f"it ends with the type '{path.collection_type.rsplit('/', 1)[-1]}' but no name")
    return path.scope


def parse_typed_id(text: str, *, expected_types: tuple[str, ...], what: str) -> ResourceId:
    """Parse an id that must be of one of ``expected_types`` (compared case-insensitively)."""
    resource_id = parse_resource_id(text)
    if resource_id.full_type.lower() not in {t.lower() for t in expected_types}:
        wanted = " or ".join(expected_types)
        raise InvalidRequest(
            f"{what} '{text}' is a {resource_id.full_type}, but a {wanted} id is required.",
            code="InvalidResourceId",
        )
    return resource_id
