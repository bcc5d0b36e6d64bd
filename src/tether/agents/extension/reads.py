"""What a job pass reads from the cluster, fresh (``LiveReads``) or from watch-fed caches (``CachedReads``).

``reconcile_job`` asks for the same things either way: the TetherJob, its labelled pods, the extension's
settings, the InstanceTypes, the nodes and non-terminal pods that placement weighs, and the job's
ServiceAccount. Called on its own (tests, one-off passes) it reads live; the controller gives it the
cached view, which answers from informers (``informer.Informer``) without a round trip, so a job's
pods are created one API call after its TetherJob is seen.

Both translate failures into Tether's errors (``kube_error``), which the controller treats as temporary.
The cached view knows which ServiceAccounts it made current (``remember_account``) and only reads one it
has not; ``forget_account`` drops that belief when the API server says otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from lightkube import AsyncClient
from lightkube.operators import not_in
from lightkube.resources.core_v1 import ConfigMap, Node, Pod, ServiceAccount

from tether.agents.extension.checks import OperatorSettings, read_settings, settings_from
from tether.agents.extension.jobspec import JOB_LABEL
from tether.agents.extension.placement import TERMINAL_POD_PHASES
from tether.errors import Unavailable
from tether.kube import extension_manifests as m
from tether.kube.errors import KUBE_ERRORS, get_or_none, kube_error
from tether.kube.extension_status import InstanceTypeInfo, instance_types_from, read_instance_types
from tether.kube.informer import Informer, Key
from tether.kube.resources import InstanceType, TetherJob

UP_TO_DATE = object()
"""``service_account``'s answer when the account is known to be as the job needs it."""


class ClusterReads(Protocol):
    async def job(self, namespace: str, name: str) -> Any | None: ...

    async def job_pods(self, namespace: str, name: str, *, fresh: bool = False) -> list[Pod]:
        """Pods labelled with the job's name (any owner); ``fresh`` asks the API server even if cached."""

    async def settings(self) -> OperatorSettings: ...

    async def instance_types(self) -> list[InstanceTypeInfo]: ...

    async def nodes(self) -> list[Node]: ...

    async def active_pods(self) -> list[Pod]:
        """Every pod of the cluster that has not finished (placement counts what they hold)."""

    async def service_account(self, namespace: str, body: Mapping[str, Any]) -> Any:
        """The existing account, ``None`` if missing, ``UP_TO_DATE`` if known to match ``body``."""

    def remember_job(self, job: Any) -> None: ...

    def remember_pod(self, pod: Pod) -> None: ...

    def remember_account(self, namespace: str, body: Mapping[str, Any]) -> None: ...

    def forget_account(self, namespace: str, name: str) -> None: ...


class LiveReads:
    """Every read asks the API server."""

    def __init__(self, client: AsyncClient, release_namespace: str) -> None:
        self._client = client
        self._release_namespace = release_namespace

    async def job(self, namespace: str, name: str) -> Any | None:
        return await get_or_none(self._client, TetherJob, name, namespace=namespace)

    async def job_pods(self, namespace: str, name: str, *, fresh: bool = False) -> list[Pod]:
        try:
            return [p async for p in self._client.list(Pod, namespace=namespace, labels={JOB_LABEL: name})]
        except KUBE_ERRORS as e:
            raise kube_error(e, doing=f"listing the pods of TetherJob {namespace}/{name}") from e

    async def settings(self) -> OperatorSettings:
        try:
            return await read_settings(self._client, self._release_namespace)
        except KUBE_ERRORS as e:
            raise kube_error(e, doing=f"reading the extension's settings in {self._release_namespace}") from e

    async def instance_types(self) -> list[InstanceTypeInfo]:
        return await read_instance_types(self._client)

    async def nodes(self) -> list[Node]:
        try:
            return [n async for n in self._client.list(Node)]
        except KUBE_ERRORS as e:
            raise kube_error(e, doing="listing nodes for placement") from e

    async def active_pods(self) -> list[Pod]:
        unfinished = not_in(list(TERMINAL_POD_PHASES))
        try:
            return [p async for p in self._client.list(Pod, namespace="*", fields={"status.phase": unfinished})]
        except KUBE_ERRORS as e:
            raise kube_error(e, doing="listing pods for placement") from e

    async def service_account(self, namespace: str, body: Mapping[str, Any]) -> Any:
        return await get_or_none(self._client, ServiceAccount, body["metadata"]["name"], namespace=namespace)

    def remember_job(self, job: Any) -> None:
        return None

    def remember_pod(self, pod: Pod) -> None:
        return None

    def remember_account(self, namespace: str, body: Mapping[str, Any]) -> None:
        return None

    def forget_account(self, namespace: str, name: str) -> None:
        return None


def _job_of(pod: Pod) -> Key | None:
    meta = pod.metadata
    job = (meta.labels or {}).get(JOB_LABEL) if meta is not None else None
    return (meta.namespace or "", job) if meta is not None and job else None


def _fingerprint(body: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    meta = body["metadata"]
    return frozenset({**meta.get("labels", {}), **meta.get("annotations", {})}.items())


class CachedReads:
    """Reads answered from informers, which the caller keeps running (``informers``); reads wait for
    nothing, so callers start only once ``synced`` returns."""

    def __init__(
        self,
        client: AsyncClient,
        release_namespace: str,
        *,
        on_job: Callable[[Any, bool], None] | None = None,
        on_pod: Callable[[Pod, bool], None] | None = None,
    ) -> None:
        self._live = LiveReads(client, release_namespace)
        self._release_namespace = release_namespace
        self._jobs: Informer[Any] = Informer(client, TetherJob, namespace="*", on_change=on_job)
        self._pods: Informer[Pod] = Informer(client, Pod, namespace="*", on_change=on_pod, index_by=_job_of)
        self._nodes: Informer[Node] = Informer(client, Node)
        self._instance_types: Informer[Any] = Informer(client, InstanceType)
        self._settings: Informer[ConfigMap] = Informer(
            client, ConfigMap, namespace=release_namespace, fields={"metadata.name": m.CONFIG_MAP_NAME}
        )
        self._accounts: dict[Key, frozenset[tuple[str, str]]] = {}

    @property
    def informers(self) -> list[Informer[Any]]:
        """Each to be run (and run again when it fails) by the caller."""
        return [self._jobs, self._pods, self._nodes, self._instance_types, self._settings]

    async def synced(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self.informers))

    def jobs(self) -> list[Any]:
        return self._jobs.values()

    async def job(self, namespace: str, name: str) -> Any | None:
        return self._jobs.get((namespace, name))

    async def job_pods(self, namespace: str, name: str, *, fresh: bool = False) -> list[Pod]:
        if fresh:
            return await self._live.job_pods(namespace, name)
        return self._pods.indexed((namespace, name))

    async def settings(self) -> OperatorSettings:
        found = self._settings.get((self._release_namespace, m.CONFIG_MAP_NAME))
        if found is None:
            raise Unavailable(
                f"The extension's settings ConfigMap {self._release_namespace}/{m.CONFIG_MAP_NAME} does not exist: "
                "install the ML extension again (tether k8s-extension create).",
                code="ExtensionNotInstalled",
            )
        return settings_from(found)

    async def instance_types(self) -> list[InstanceTypeInfo]:
        return instance_types_from(self._instance_types.values())

    async def nodes(self) -> list[Node]:
        return self._nodes.values()

    async def active_pods(self) -> list[Pod]:
        return [p for p in self._pods.values() if not (p.status and p.status.phase in TERMINAL_POD_PHASES)]

    async def service_account(self, namespace: str, body: Mapping[str, Any]) -> Any:
        if self._accounts.get((namespace, body["metadata"]["name"])) == _fingerprint(body):
            return UP_TO_DATE
        return await self._live.service_account(namespace, body)

    def remember_job(self, job: Any) -> None:
        self._jobs.remember(job)

    def remember_pod(self, pod: Pod) -> None:
        self._pods.remember(pod)

    def remember_account(self, namespace: str, body: Mapping[str, Any]) -> None:
        self._accounts[(namespace, body["metadata"]["name"])] = _fingerprint(body)

    def forget_account(self, namespace: str, name: str) -> None:
        self._accounts.pop((namespace, name), None)
