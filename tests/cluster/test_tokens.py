"""Service-account tokens of the local cluster: TokenRequest, TokenReview and the issuer's public JWKS.

This is what Tether's token service will rely on to accept a federated service-account token: the
issuer's discovery document and JWKS must be readable without credentials and must verify the token.
"""

from __future__ import annotations

import ssl

import httpx2
import jwt
import pytest
from lightkube import AsyncClient
from lightkube.models.authentication_v1 import TokenRequestSpec, TokenReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.authentication_v1 import TokenReview
from lightkube.resources.core_v1 import ServiceAccount

from tether.localcluster import LocalCluster

pytestmark = pytest.mark.cluster

AUDIENCE = "api://AzureADTokenExchange"


async def _federated_token(kube_client: AsyncClient, namespace: str, account: str) -> str:
    await kube_client.create(ServiceAccount(metadata=ObjectMeta(name=account, namespace=namespace)))
    request = ServiceAccount.Token(
        metadata=ObjectMeta(name=account), spec=TokenRequestSpec(audiences=[AUDIENCE], expirationSeconds=3600)
    )
    issued = await kube_client.create(request, account, namespace=namespace)
    assert issued.status is not None
    assert issued.status.token
    return issued.status.token


async def test_token_request_validates_through_token_review(kube_client: AsyncClient, namespace: str) -> None:
    token = await _federated_token(kube_client, namespace, "workload")

    review = await kube_client.create(TokenReview(spec=TokenReviewSpec(token=token, audiences=[AUDIENCE])))

    assert review.status is not None
    assert review.status.authenticated
    assert review.status.user is not None
    assert review.status.user.username == f"system:serviceaccount:{namespace}:workload"
    assert review.status.audiences == [AUDIENCE]


async def test_token_review_rejects_a_tampered_token(kube_client: AsyncClient, namespace: str) -> None:
    token = await _federated_token(kube_client, namespace, "workload")
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    review = await kube_client.create(TokenReview(spec=TokenReviewSpec(token=tampered, audiences=[AUDIENCE])))

    assert review.status is not None
    assert not review.status.authenticated


async def test_token_verifies_against_the_issuers_public_jwks(
    local_cluster: LocalCluster, kube_client: AsyncClient, namespace: str
) -> None:
    token = await _federated_token(kube_client, namespace, "workload")
    context = ssl.create_default_context(cafile=str(local_cluster.ca_path))
    # No credentials at all: the discovery endpoints are public, as an external token exchange needs.
    async with httpx2.AsyncClient(verify=context, trust_env=False) as http:
        discovery_response = await http.get(f"{local_cluster.issuer_url}/.well-known/openid-configuration")
        assert discovery_response.status_code == 200, discovery_response.text
        discovery = discovery_response.json()
        jwks_response = await http.get(discovery["jwks_uri"])
        assert jwks_response.status_code == 200, jwks_response.text

    assert discovery["issuer"] == local_cluster.issuer_url
    key_id = jwt.get_unverified_header(token)["kid"]
    signing_key = jwt.PyJWKSet.from_dict(jwks_response.json())[key_id]
    claims = jwt.decode(
        token,
        key=signing_key,
        algorithms=discovery["id_token_signing_alg_values_supported"],
        audience=AUDIENCE,
        issuer=discovery["issuer"],
    )
    assert claims["sub"] == f"system:serviceaccount:{namespace}:workload"
    assert claims["kubernetes.io"]["serviceaccount"]["name"] == "workload"

    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key=signing_key, algorithms=["RS256"], audience="api://someone-else")
