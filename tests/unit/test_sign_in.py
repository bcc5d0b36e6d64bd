"""The authorization-code flow's pure rules: redirect URIs, PKCE, the audience a scope asks for."""

from __future__ import annotations

import re

import pytest

from tether.errors import InvalidRequest
from tether.identity.sign_in import allowed_redirect, audience_of, check_challenge, pkce_challenge

SERVER = "https://tether.test:8443"


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("http://localhost:8400", True),
        ("http://127.0.0.1:9000/cb", True),
        ("http://[::1]:9000/", True),
        (f"{SERVER}/studio/callback", True),
        ("https://127.0.0.1:8443.evil.test/cb", False),
        ("https://tether.test:8443.evil.test/cb", False),
        ("https://tether.test:8443@evil.test/studio/cb", False),
        ("https://example.test/cb", False),
        ("http://localhost:8400/#fragment", False),
        ("javascript:alert(1)", False),
        (SERVER, False),
    ],
)
def test_codes_go_only_to_loopback_or_this_server(uri: str, allowed: bool) -> None:
    assert allowed_redirect(uri, public_url=SERVER) is allowed


def test_the_pkce_challenge_is_unpadded_base64url_of_sha256() -> None:
    challenge = pkce_challenge("a" * 43)
    assert len(challenge) == 43
    assert re.fullmatch(r"[A-Za-z0-9_-]+", challenge)
    assert pkce_challenge("a" * 44) != challenge


def test_pkce_is_required_with_s256() -> None:
    assert check_challenge("abc", "S256") == "abc"
    for challenge, method in (("", "S256"), ("abc", "plain"), ("abc", None)):
        with pytest.raises(InvalidRequest):
            check_challenge(challenge, method)


def test_the_audience_is_the_default_scope_among_openid_scopes() -> None:
    assert audience_of(f"{SERVER}/.default openid profile offline_access", default="x") == SERVER
    assert audience_of("openid profile", default=SERVER) == SERVER
