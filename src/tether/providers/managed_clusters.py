"""Managed clusters (the AKS role): existing clusters whose API server the control plane reaches with
credentials it holds.

``PUT`` registers a cluster from a kubeconfig (Tether's write-only ``properties.kubeconfig``); the
kubeconfig is sealed at rest and never returned by ``GET``. The reconciler then checks that the API
server answers and records its version, node count and service-account issuer. The admin
credential is returned only by ``POST .../listClusterAdminCredential`` (Cluster Admin role).
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from tether.crypto import SecretBox
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.models.clusters import ManagedClusterRecord
from tether.domain.names import validate_name
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.kube.access import minimal_kubeconfig, parse_kubeconfig, server_of
from tether.protocol.clusters import CreateManagedClusterRequest
from tether.providers import lro
from tether.providers.base import RequestContext, WriteResult
from tether.providers.clusters import ClusterProvider, answer
from tether.providers.envelope import parse_body, require_parent
from tether.store import cluster_secrets, resources


class ManagedClusters(ClusterProvider):
    full_type: ClassVar[str] = rt.MANAGED_CLUSTERS
    kind_name: ClassVar[str] = "managed cluster"

    def __init__(self, *, secrets: SecretBox) -> None:
        self._secrets = secrets

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateManagedClusterRequest, body)
        validate_name(self.full_type, resource_id.name)
        kubeconfig = request.properties.kubeconfig
        context = request.properties.kubeconfigContext
        server = server_of(parse_kubeconfig(kubeconfig, context=context)) if kubeconfig else None
        async with ctx.store.transaction() as session:
            group = await require_parent(session, resource_id)
            row = await resources.get(session, resource_id, for_update=True)
            if row is None and kubeconfig is None:
                raise InvalidRequest(
                    "Registering a cluster needs its kubeconfig (properties.kubeconfig): "
                    "tether aks create -g <group> -n <name> --kubeconfig <file>.",
                    code="KubeconfigRequired",
                    target="properties.kubeconfig",
                )
            if row is not None and ProvisioningState(row.provisioning_state) in (
                ProvisioningState.CREATING,
                ProvisioningState.UPDATING,
                ProvisioningState.DELETING,
            ):
                raise Conflict(
                    f"Cluster '{row.name}' is {row.provisioning_state}; try again when it has finished.",
                    code="ConflictingOperation",
                )
            created = row is None
            if row is None:
                location = (request.location or (group.location if group else None) or "local").lower()
                row = await resources.insert(
                    session,
                    resource_id,
                    location=location,
                    tags=request.tags,
                    identity=None,
                    properties=ManagedClusterRecord(fqdn=server, kubeconfig_context=context),
                    state=ProvisioningState.CREATING,
                    principal_id=ctx.caller.object_id,
                )
            else:
                changed = None
                if server is not None:
                    record = resources.read_properties(row, ManagedClusterRecord)
                    changed = record.model_copy(update={"fqdn": server, "kubeconfig_context": context})
                row = await resources.update(session, row, tags=request.tags, properties=changed)
            started = None
            if kubeconfig is not None:
                await cluster_secrets.put(
                    session,
                    resource_key=row.key,
                    kind=cluster_secrets.KUBECONFIG,
                    value=self._secrets.seal(minimal_kubeconfig(kubeconfig, context=context)),
                )
                kind = OperationKind.CREATE if created else OperationKind.UPDATE
                row, started = await lro.start(
                    session, row, kind, principal_id=ctx.caller.object_id, starter=ctx.starter
                )
            else:
                row = await resources.update(session, row, principal_id=ctx.caller.object_id)
        if started is None:
            return WriteResult(answer(row), created=created)
        ctx.starter.run(started)
        return WriteResult(answer(row), created=created, operation_id=started.operation.id)

    async def list_admin_credential(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        """The admin kubeconfig, as AKS answers ``listClusterAdminCredential``."""
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id)
            sealed = await cluster_secrets.get(session, resource_key=resource_id.key, kind=cluster_secrets.KUBECONFIG)
        if row is None or sealed is None:
            raise NotFound(f"The managed cluster '{resource_id.name}' could not be found.", code="ResourceNotFound")
        value = base64.b64encode(self._secrets.open(sealed).encode()).decode()
        return {"kubeconfigs": [{"name": "clusterAdmin", "value": value}]}
