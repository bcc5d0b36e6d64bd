"""The CA that verifies an OIDC issuer is bound to the resource that registered it.

A connected cluster reports its service-account issuer and CA; before, the last cluster to report any
issuer replaced the tenant's trusted CA for it, so one cluster could redirect another's federation.
Both dialects (the ``store`` fixture).
"""

from __future__ import annotations

import uuid

import pytest

from tether.domain.ids import parse_resource_id
from tether.domain.models.clusters import ConnectedClusterRecord
from tether.domain.states import ProvisioningState
from tether.errors import Conflict
from tether.store import Store, federated_credentials, resources, tenancy

ISSUER = "https://127.0.0.1:6443"
CA_A, CA_B = "-----CA of cluster a-----", "-----CA of cluster b-----"


async def _tenant_with_clusters(store: Store, *names: str) -> tuple[str, list[str]]:
    tenant_id, subscription_id = str(uuid.uuid4()), str(uuid.uuid4())
    ids = []
    async with store.transaction() as session:
        await tenancy.create_tenant(session, tenant_id=tenant_id, display_name="t")
        await tenancy.create_subscription(
            session, subscription_id=subscription_id, tenant_id=tenant_id, display_name="s"
        )
        for name in names:
            resource_id = parse_resource_id(
                f"/subscriptions/{subscription_id}/resourceGroups/rg1/providers/"
                f"Microsoft.Kubernetes/connectedClusters/{name}"
            )
            row = await resources.insert(
                session,
                resource_id,
                location="local",
                tags={},
                identity=None,
                properties=ConnectedClusterRecord(relay_endpoint="wss://127.0.0.1:1/relay/connect"),
                state=ProvisioningState.SUCCEEDED,
                principal_id="tester",
            )
            ids.append(row.id)
    return tenant_id, ids


async def _ca(store: Store, tenant_id: str) -> str | None:
    async with store.transaction() as session:
        return await federated_credentials.issuer_ca(session, tenant_id=tenant_id, issuer=ISSUER)


async def test_another_cluster_cannot_replace_the_ca_of_an_issuer_it_did_not_register(store: Store) -> None:
    tenant_id, (a, b) = await _tenant_with_clusters(store, "a", "b")
    async with store.transaction() as session:
        await federated_credentials.trust_issuer(session, tenant_id=tenant_id, issuer=ISSUER, ca_pem=CA_A, source=a)

    with pytest.raises(Conflict) as refused:
        async with store.transaction() as session:
            await federated_credentials.trust_issuer(session, tenant_id=tenant_id, issuer=ISSUER, ca_pem=CA_B, source=b)

    assert refused.value.code == "IssuerAlreadyTrusted"
    assert a in refused.value.message
    assert await _ca(store, tenant_id) == CA_A


async def test_the_registering_cluster_may_renew_its_ca_and_others_may_repeat_it(store: Store) -> None:
    tenant_id, (a, b) = await _tenant_with_clusters(store, "a", "b")
    async with store.transaction() as session:
        await federated_credentials.trust_issuer(session, tenant_id=tenant_id, issuer=ISSUER, ca_pem=CA_A, source=a)
        await federated_credentials.trust_issuer(session, tenant_id=tenant_id, issuer=ISSUER, ca_pem=CA_A, source=b)
        await federated_credentials.trust_issuer(session, tenant_id=tenant_id, issuer=ISSUER, ca_pem=CA_B, source=a)
    assert await _ca(store, tenant_id) == CA_B


async def test_once_the_registering_cluster_is_gone_another_may_take_the_issuer_over(store: Store) -> None:
    tenant_id, (a, b) = await _tenant_with_clusters(store, "a", "b")
    async with store.transaction() as session:
        await federated_credentials.trust_issuer(session, tenant_id=tenant_id, issuer=ISSUER, ca_pem=CA_A, source=a)
        await resources.delete_tree_by_key(session, a.lower())
    async with store.transaction() as session:
        await federated_credentials.trust_issuer(session, tenant_id=tenant_id, issuer=ISSUER, ca_pem=CA_B, source=b)
    assert await _ca(store, tenant_id) == CA_B
