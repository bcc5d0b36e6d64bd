"""Cluster extensions (``<cluster id>/providers/Microsoft.KubernetesConfiguration/extensions/<name>``).

Tether installs one extension type, ``Microsoft.AzureML.Kubernetes``, with az's rules: scope
``cluster``, release namespace ``azureml``, and training or inference enabled. Creating it is a
long-running operation (the reconciler installs CRDs, RBAC, configuration and the operator); the
extension gets a system-assigned identity; on a connected cluster it also creates the relay
resources. ``provisioningState`` says whether the install finished; ``health`` (refreshed in the
background from the operator's heartbeat) says whether the operator is alive and its checks pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.models.extensions import (
    ClusterExtensionRecord,
    ClusterScope,
    ExtensionPrivate,
    ExtensionScope,
    ExtensionSpec,
)
from tether.domain.names import validate_name
from tether.domain.principals import PrincipalKind
from tether.domain.resources import Resource
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.kube.extension_manifests import ExtensionConfig
from tether.protocol.extensions import CreateExtensionRequest, ExtensionProperties, extension_properties
from tether.providers import lro
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import envelope, parse_body
from tether.store import Session, principals, resources

AZUREML_EXTENSION_TYPE = "Microsoft.AzureML.Kubernetes"
RELEASE_NAMESPACE = "azureml"
# Tether's setting: run the operator as a local process (clusters whose nodes cannot run images).
OPERATOR_MODE_SETTING = "tether.operatorMode"
_CLUSTER_TYPES = {rt.MANAGED_CLUSTERS.lower(), rt.CONNECTED_CLUSTERS.lower()}


def answer(row: Resource) -> dict[str, Any]:
    record = resources.read_properties(row, ClusterExtensionRecord)
    return envelope(row, properties=extension_properties(record, provisioning_state=row.provisioning_state))


def config_of(spec: ExtensionSpec) -> ExtensionConfig:
    """How the extension ``spec`` describes is installed in its cluster."""
    settings = spec.configuration_settings
    return ExtensionConfig.from_configuration_settings(
        settings,
        release_train=spec.release_train or "stable",
        namespace=RELEASE_NAMESPACE,
        in_cluster=settings.get(OPERATOR_MODE_SETTING, "deployment").lower() != "process",
    )


def _validate(properties: ExtensionProperties) -> None:
    """az's rules for the Azure ML extension, with az's messages."""
    if properties.extensionType.lower() != AZUREML_EXTENSION_TYPE.lower():
        raise InvalidRequest(
            f"Extension type '{properties.extensionType}' is not supported: Tether installs "
            f"'{AZUREML_EXTENSION_TYPE}' only.",
            code="InvalidExtensionType",
            target="properties.extensionType",
        )
    if properties.scope is not None and properties.scope.namespace is not None:
        raise InvalidRequest(
            "Invalid scope 'namespace'.  This extension can be installed only at 'cluster' scope.",
            code="InvalidArgumentValueError",
            target="properties.scope",
        )
    namespace = properties.scope.cluster.releaseNamespace if properties.scope and properties.scope.cluster else None
    if namespace not in (None, RELEASE_NAMESPACE):
        raise InvalidRequest(
            f"Release namespace '{namespace}' is not supported: the extension installs into '{RELEASE_NAMESPACE}'.",
            code="InvalidArgumentValueError",
            target="properties.scope.cluster.releaseNamespace",
        )
    duplicated = set(properties.configurationSettings) & set(properties.configurationProtectedSettings)
    if duplicated:
        raise InvalidRequest(
            f"Duplicate keys found. ({', '.join(sorted(duplicated))} in both configurationSettings and "
            "configurationProtectedSettings)",
            code="InvalidArgumentValueError",
        )
    merged = {**properties.configurationProtectedSettings, **properties.configurationSettings}
    enabled = {k: str(merged.get(k, "")).strip().lower() == "true" for k in ("enableTraining", "enableInference")}
    if not any(enabled.values()):
        raise InvalidRequest(
            "Please create Microsoft.AzureML.Kubernetes extension instance either for Machine Learning training "
            "or inference by specifying '--configuration-settings enableTraining=true' or "
            "'--configuration-settings enableInference=true'",
            code="InvalidArgumentValueError",
            target="properties.configurationSettings",
        )


async def _cluster(session: Session, resource_id: ResourceId) -> Resource:
    cluster_id = resource_id.parent
    if cluster_id is None or cluster_id.full_type.lower() not in _CLUSTER_TYPES:
        raise InvalidRequest(
            f"Extensions go on clusters (managedClusters or connectedClusters), not on '{cluster_id}'.",
            code="InvalidResourceId",
        )
    row = await resources.get(session, cluster_id)
    if row is None:
        raise NotFound(f"The cluster '{cluster_id}' could not be found.", code="ClusterNotFound")
    return row


class Extensions:
    full_type: ClassVar[str] = rt.EXTENSIONS

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id)
        if row is None:
            raise NotFound(
                f"The extension '{resource_id.name}' was not found on cluster '{resource_id.parent}'.",
                code="ExtensionNotFound",
            )
        return answer(row)

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        async with ctx.store.transaction() as session:
            rows = await resources.list_children(session, parent, self.full_type, offset=offset, limit=limit + 1)
        return Page([answer(r) for r in rows[:limit]], more=len(rows) > limit)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        properties = parse_body(CreateExtensionRequest, body).properties
        validate_name(self.full_type, resource_id.name)
        _validate(properties)
        spec = ExtensionSpec(
            extension_type=AZUREML_EXTENSION_TYPE,
            auto_upgrade_minor_version=properties.autoUpgradeMinorVersion is not False,
            release_train=properties.releaseTrain or "stable",
            version=properties.version,
            scope=ExtensionScope(cluster=ClusterScope(release_namespace=RELEASE_NAMESPACE)),
            configuration_settings=properties.configurationSettings,
            # Names only: nothing in Tether reads the values after the checks above (the install uses
            # configurationSettings), and Azure never answers them; a secret not kept needs no sealing.
            configuration_protected_settings=dict.fromkeys(properties.configurationProtectedSettings, ""),
        )
        async with ctx.store.transaction() as session:
            cluster = await _cluster(session, resource_id)
            siblings = await resources.list_children(session, resource_id.parent or resource_id, self.full_type)
            other = [s for s in siblings if s.key != resource_id.key]
            if other:
                raise Conflict(
                    f"Cluster '{cluster.name}' already has the {AZUREML_EXTENSION_TYPE} extension '{other[0].name}'; "
                    "a cluster can have one. Update or delete that one.",
                    code="ExtensionTypeAlreadyInstalled",
                )
            row = await resources.get(session, resource_id, for_update=True)
            created = row is None
            if row is None:
                row = await resources.insert(
                    session,
                    resource_id,
                    location=cluster.location,
                    tags={},
                    identity=None,
                    properties=ClusterExtensionRecord(spec=spec),
                    state=ProvisioningState.CREATING,
                    principal_id=ctx.caller.object_id,
                )
                principal = await principals.create(
                    session,
                    tenant_id=ctx.caller.tenant_id,
                    kind=PrincipalKind.SYSTEM_ASSIGNED_IDENTITY.value,
                    display_name=f"{cluster.name}/extensions/{resource_id.name}",
                    resource_key=row.key,
                )
                identity = {
                    "type": "SystemAssigned",
                    "principalId": principal.object_id,
                    "tenantId": principal.tenant_id,
                }
                row = await resources.update(session, row, identity=identity)
            else:
                if ProvisioningState(row.provisioning_state) in (
                    ProvisioningState.CREATING,
                    ProvisioningState.DELETING,
                ):
                    raise Conflict(
                        f"Extension '{row.name}' is {row.provisioning_state}; try again when it has finished.",
                        code="ConflictingOperation",
                    )
                record = resources.read_properties(row, ClusterExtensionRecord)
                row = await resources.update(session, row, properties=record.model_copy(update={"spec": spec}))
            kind = OperationKind.CREATE if created else OperationKind.UPDATE
            row, started = await lro.start(session, row, kind, principal_id=ctx.caller.object_id, starter=ctx.starter)
        ctx.starter.run(started)
        return WriteResult(answer(row), created=created, operation_id=started.operation.id)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            if row.provisioning_state == ProvisioningState.DELETING:
                raise Conflict(f"Extension '{row.name}' is already being deleted.", code="ConflictingOperation")
            if params.get("forceDelete", "").lower() == "true":
                record = resources.read_properties(row, ClusterExtensionRecord)
                forced = record.model_copy(update={"private": ExtensionPrivate(force_delete=True)})
                row = await resources.update(session, row, properties=forced)
            _, started = await lro.start(
                session, row, OperationKind.DELETE, principal_id=ctx.caller.object_id, starter=ctx.starter
            )
        ctx.starter.run(started)
        return DeleteResult(existed=True, operation_id=started.operation.id)
