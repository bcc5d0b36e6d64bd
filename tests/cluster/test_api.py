"""The local cluster's API server is real: namespaces live and die, RBAC denies what is not granted."""

from __future__ import annotations

import asyncio
import ssl
import time

import httpx2
import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

from tether.localcluster import LocalCluster, kubeversions

pytestmark = pytest.mark.cluster


async def test_api_server_runs_the_pinned_kubernetes(local_cluster: LocalCluster) -> None:
    # /version is public (system:public-info-viewer); an unauthenticated probe, like a load balancer's.
    context = ssl.create_default_context(cafile=str(local_cluster.ca_path))
    async with httpx2.AsyncClient(verify=context, trust_env=False) as http:
        response = await http.get(f"{local_cluster.server_url}/version")
    assert response.status_code == 200
    assert response.json()["gitVersion"] == kubeversions.KUBERNETES_VERSION


async def test_namespace_is_created_and_deleted(kube_client: AsyncClient) -> None:
    name = "ns-lifecycle-test"
    await kube_client.create(Namespace(metadata=ObjectMeta(name=name)))
    created = await kube_client.get(Namespace, name)
    assert created.status is not None
    assert created.status.phase == "Active"

    await kube_client.delete(Namespace, name)
    # Finishing the deletion is the controller-manager's namespace controller: proof that it runs.
    deadline = time.monotonic() + 30
    while name in {ns.metadata.name async for ns in kube_client.list(Namespace) if ns.metadata}:
        if time.monotonic() > deadline:
            pytest.fail(f"namespace {name} was not deleted within 30 s")
        await asyncio.sleep(0.2)
    with pytest.raises(ApiError) as gone:
        await kube_client.get(Namespace, name)
    assert gone.value.status.code == 404


async def _token_for(kube_client: AsyncClient, namespace: str, account: str) -> str:
    await kube_client.create(ServiceAccount(metadata=ObjectMeta(name=account, namespace=namespace)))
    request = ServiceAccount.Token(
        metadata=ObjectMeta(name=account), spec=TokenRequestSpec(audiences=[], expirationSeconds=600)
    )
    issued = await kube_client.create(request, account, namespace=namespace)
    assert issued.status is not None
    assert issued.status.token
    return issued.status.token


async def test_rbac_denies_a_restricted_service_account(
    local_cluster: LocalCluster, kube_client: AsyncClient, namespace: str
) -> None:
    token = await _token_for(kube_client, namespace, "restricted")
    await kube_client.create(ConfigMap(metadata=ObjectMeta(name="visible", namespace=namespace), data={"k": "v"}))
    await kube_client.create(
        Role(
            metadata=ObjectMeta(name="configmap-reader", namespace=namespace),
            rules=[PolicyRule(apiGroups=[""], resources=["configmaps"], verbs=["get", "list"])],
        ),
    )
    await kube_client.create(
        RoleBinding(
            metadata=ObjectMeta(name="restricted-reads-configmaps", namespace=namespace),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name="configmap-reader"),
            subjects=[Subject(kind="ServiceAccount", name="restricted", namespace=namespace)],
        ),
    )

    async with local_cluster.client_for_token(token, namespace=namespace) as restricted:
        # Granted: reading config maps in its namespace.
        visible = await restricted.get(ConfigMap, "visible", namespace=namespace)
        assert visible.data == {"k": "v"}
        # Not granted: secrets here, and anything cluster-wide.
        with pytest.raises(ApiError) as denied:
            await restricted.get(Secret, "anything", namespace=namespace)
        assert denied.value.status.code == 403
        with pytest.raises(ApiError) as denied_cluster:
            await restricted.create(Namespace(metadata=ObjectMeta(name=f"{namespace}-escape")))
        assert denied_cluster.value.status.code == 403
