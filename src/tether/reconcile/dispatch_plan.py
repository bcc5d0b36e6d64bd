"""What a job's dispatch needs to know, read from the store: the plan (``Dispatch``) for one job.

The job and its compute are read fresh every time (they decide where the job goes). Facts that change
rarely — the cluster's service-account issuer and whether its ML extension has training enabled, the
compute identity's client and tenant ids, and that its federated credential for the cluster's service
account exists — are reused for ``cache_s`` after they are read, which spares a dispatch four queries
(and a write) in the transaction that creates the job. A changed fact takes that long to be noticed;
the operator checks training itself (E45004), so a job never runs on a cluster that disabled it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.jobs import SIMULATION_TAG_PREFIX, cluster_job_name, service_account_name
from tether.domain.models.clusters import ClusterRecord, record_type
from tether.domain.models.computes import ComputeRecord
from tether.domain.models.datastores import DatastoreRecord, default_datastore
from tether.domain.models.extensions import ClusterExtensionRecord, ExtensionHealthReport, HealthStatus
from tether.domain.models.jobs import JobRecord
from tether.domain.principals import TOKEN_EXCHANGE_AUDIENCE
from tether.domain.resources import Resource
from tether.errors import NotFound
from tether.recent import Recent
from tether.store import Session, federated_credentials, principals, resources


@dataclass(frozen=True)
class BlobPlace:
    """Where a job's code snapshot is, or where one of its outputs goes: a container and a blob prefix."""

    account: str
    container: str
    prefix: str


@dataclass(frozen=True)
class Delivery:
    """What the pods download before the command (``code``) and upload after it (``outputs``); the SAS URLs
    for these are signed at dispatch (``reconcile.job_delivery``), never stored."""

    code: BlobPlace | None
    outputs: tuple[tuple[str, BlobPlace], ...]


@dataclass(frozen=True)
class Dispatch:
    job_key: str
    name: str
    namespace: str
    cluster_id: ResourceId
    connected: bool
    spec: dict[str, Any]
    training_enabled: bool
    dispatched: bool
    #: Set when the cluster's ML extension is not healthy (no operator heartbeat...): what the job waits for.
    operator_note: str | None = None
    delivery: Delivery | None = None
    #: Set when the job's image is in a Tether registry: what the compute identity must be allowed to pull.
    image_pull: ImagePull | None = None


@dataclass(frozen=True)
class ImagePull:
    image: str
    registry_id: ResourceId
    compute_name: str
    identity: Identity | None


@dataclass(frozen=True)
class ClusterFacts:
    issuer: str | None
    training_enabled: bool
    operator_note: str | None = None


@dataclass(frozen=True)
class Identity:
    object_id: str
    client_id: str
    tenant_id: str


def image_host(image: str) -> str | None:
    """The registry host of an image reference, if it names one (``host[:port]/repo:tag``), as docker reads it."""
    first, sep, _ = image.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        return None
    return first.lower()


def _identity_of(compute: Resource) -> str | None:
    """The object id the compute's workloads act as, if it has an identity."""
    identity = compute.identity or {}
    if identity.get("type") == "SystemAssigned":
        return str(identity.get("principalId"))
    if identity.get("type") == "UserAssigned":
        (first,) = list((identity.get("userAssignedIdentities") or {}).values())[:1] or [{}]
        return str(first.get("principalId")) if first.get("principalId") else None
    return None


def _image(record: JobRecord) -> str:
    if record.private.run is not None:
        return record.private.run.image
    if record.spec.environment is None:  # older jobs (no resolved run) named their image only this way
        raise NotFound(
            "The job names no image: it was stored before environments were resolved; submit it again.",
            code="ImageNotFound",
        )
    return record.spec.environment.image


def _spec(job_name: str, record: JobRecord, compute: Resource, compute_id: ResourceId) -> dict[str, Any]:
    run = record.private.run  # resolved at creation (providers.job_inputs); older jobs have none
    spec: dict[str, Any] = {
        "jobName": job_name,
        "command": run.command if run is not None else record.spec.command,
        "image": _image(record),
        "instanceCount": record.spec.resources.instanceCount,
        "environmentVariables": record.spec.environmentVariables,
        "computeName": compute.name,
        "workspaceId": str(compute_id.parent),
        "podAnnotations": {k: v for k, v in record.spec.tags.items() if k.startswith(SIMULATION_TAG_PREFIX)},
    }
    if record.spec.resources.instanceType:
        spec["instanceType"] = record.spec.resources.instanceType
    if run is not None and run.timeout_seconds:
        spec["timeoutSeconds"] = run.timeout_seconds
    return spec


async def _delivery(session: Session, job_name: str, record: JobRecord, workspace_id: ResourceId) -> Delivery | None:
    """The job's code and the outputs' places in the workspace's default datastore (None: nothing to move)."""
    snapshot = record.private.run.code if record.private.run is not None else None
    code = BlobPlace(snapshot.account, snapshot.container, snapshot.prefix) if snapshot is not None else None
    names = [n for n, o in record.spec.outputs.items() if (o.uri or "").startswith("azureml:")]
    if code is None and not names:
        return None
    outputs: list[tuple[str, BlobPlace]] = []
    if names:
        datastores = await resources.list_children(session, workspace_id, rt.DATASTORES)
        default = default_datastore(resources.read_properties(d, DatastoreRecord) for d in datastores)
        if default is None:
            raise NotFound(f"Workspace '{workspace_id.name}' has no default datastore for the job's outputs.")
        account, container = default.account_name, default.container_name
        outputs = [(n, BlobPlace(account, container, f"azureml/{job_name}/{n}")) for n in names]
    return Delivery(code=code, outputs=tuple(outputs))


def _operator_note(cluster_id: ResourceId, health: ExtensionHealthReport | None) -> str | None:
    """What a job waits for when the extension's last health check (reconcile/health.py) was not Healthy."""
    if health is None or health.status is HealthStatus.HEALTHY:
        return None
    age = health.heartbeat_age_seconds
    last = "no heartbeat ever" if age is None else f"last heartbeat {age:.0f} s ago"
    return (
        f"waiting for the ML extension's operator on cluster '{cluster_id.name}' to pick it up, but the "
        f"extension is {health.status.value} ({last}): {health.reason}"
    )


class Planner:
    """Plans dispatches (``plan``); one per server, holding the recently read facts."""

    def __init__(self, *, authority: str, cache_s: float, authority_ca_pem: str | None = None) -> None:
        self._authority = authority
        self._authority_ca_pem = authority_ca_pem
        self._clusters: Recent[str, ClusterFacts] = Recent(cache_s)
        self._identities: Recent[str, Identity] = Recent(cache_s)
        self._trusted: Recent[tuple[str, str], bool] = Recent(cache_s)

    async def plan(self, session: Session, job: Resource) -> Dispatch:
        record = resources.read_properties(job, JobRecord)
        compute_id = parse_resource_id(record.spec.computeId)
        compute = await resources.get(session, compute_id)
        if compute is None:
            raise NotFound(f"The job's compute '{compute_id.name}' no longer exists.", code="ComputeNotFound")
        compute_spec = resources.read_properties(compute, ComputeRecord).spec
        cluster_id = parse_resource_id(compute_spec.resource_id)
        cluster = await self._cluster(session, cluster_id)
        namespace = compute_spec.namespace
        spec = _spec(job.name, record, compute, compute_id)
        object_id = _identity_of(compute)
        identity = await self._identity(session, object_id) if object_id is not None else None
        if identity is not None and cluster.issuer:
            account = service_account_name(compute.name)
            await self._trust(session, identity, issuer=cluster.issuer, namespace=namespace, account=account)
            spec["identity"] = {
                "clientId": identity.client_id,
                "tenantId": identity.tenant_id,
                "authorityHost": self._authority,
                "serviceAccountName": account,
            }
            if self._authority_ca_pem:
                spec["identity"]["caBundle"] = self._authority_ca_pem
        image_pull = await self._image_pull(session, spec, identity=identity, compute_name=compute.name)
        if image_pull is not None:
            spec["imageRegistry"] = {"loginServer": image_host(image_pull.image)}
        return Dispatch(
            job_key=job.key,
            name=cluster_job_name(job.key, job.name),
            namespace=namespace,
            cluster_id=cluster_id,
            connected=cluster_id.full_type == rt.CONNECTED_CLUSTERS,
            spec=spec,
            training_enabled=cluster.training_enabled,
            operator_note=cluster.operator_note,
            dispatched=record.dispatched,
            delivery=await _delivery(session, job.name, record, compute_id.parent) if compute_id.parent else None,
            image_pull=image_pull,
        )

    async def _image_pull(
        self, session: Session, spec: dict[str, Any], *, identity: Identity | None, compute_name: str
    ) -> ImagePull | None:
        """The registry the image is pulled from, when it is one of Tether's (found by its login server)."""
        host = image_host(spec["image"])
        if host is None:
            return None
        rows = await resources.find_by_property(session, rt.REGISTRIES, name="loginServer", value=host)
        if not rows:
            return None
        return ImagePull(spec["image"], parse_resource_id(rows[0].id), compute_name, identity)

    async def _cluster(self, session: Session, cluster_id: ResourceId) -> ClusterFacts:
        if (known := self._clusters.get(cluster_id.key)) is not None:
            return known
        cluster = await resources.get(session, cluster_id)
        if cluster is None:
            raise NotFound(f"The compute's cluster '{cluster_id}' no longer exists.", code="ClusterNotFound")
        extensions = await resources.list_children(session, cluster_id, rt.EXTENSIONS)
        extension = resources.read_properties(extensions[0], ClusterExtensionRecord) if extensions else None
        settings = extension.spec.configuration_settings if extension is not None else {}
        record: ClusterRecord = resources.read_properties(cluster, record_type(cluster.type))
        facts = ClusterFacts(
            issuer=record.oidc_issuer_profile.issuer_url if record.oidc_issuer_profile is not None else None,
            training_enabled=str(settings.get("enableTraining", "false")).lower() == "true",
            operator_note=_operator_note(cluster_id, extension.state.health if extension is not None else None),
        )
        return self._clusters.put(cluster_id.key, facts)

    async def _identity(self, session: Session, object_id: str) -> Identity | None:
        if (known := self._identities.get(object_id)) is not None:
            return known
        principal = await principals.get(session, object_id)
        found = Identity(principal.object_id, principal.app_id, principal.tenant_id) if principal else None
        return self._identities.put(object_id, found) if found is not None else None

    async def _trust(self, session: Session, identity: Identity, *, issuer: str, namespace: str, account: str) -> None:
        """A federated credential on the compute identity for exactly this cluster's service account."""
        subject = f"system:serviceaccount:{namespace}:{account}"
        digest = hashlib.sha256(f"{issuer}|{subject}".encode()).hexdigest()[:12]
        name = f"tether-{digest}"
        if self._trusted.get((identity.object_id, name)):
            return
        await federated_credentials.upsert(
            session,
            principal_id=identity.object_id,
            name=name,
            issuer=issuer,
            subject=subject,
            audiences=[TOKEN_EXCHANGE_AUDIENCE],
        )
        self._trusted.put((identity.object_id, name), True)
