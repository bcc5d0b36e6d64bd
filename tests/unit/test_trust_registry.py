"""``tether local-cluster trust-registry``: containerd's certs.d entry for one loopback login server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.errors import TetherError
from tether.localcluster.paths import ClusterPaths
from tether.localcluster.realnode import node_paths, trust_registry


def test_a_loopback_login_server_gets_its_hosts_toml_and_ca(tmp_path: Path) -> None:
    paths = ClusterPaths(tmp_path)
    hosts = trust_registry(paths, "127.0.0.1:40123", ca_pem="-----BEGIN CERTIFICATE-----\n")
    assert hosts == node_paths(paths).registry_hosts / "127.0.0.1:40123" / "hosts.toml"
    text = hosts.read_text()
    assert 'server = "https://127.0.0.1:40123"' in text
    assert f'ca = "{hosts.parent / "ca.crt"}"' in text
    assert (hosts.parent / "ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize("login_server", ["localhost:5000", "127.0.0.1", "../etc:1", "127.0.0.1:5000/../x"])
def test_anything_but_a_loopback_login_server_is_refused(tmp_path: Path, login_server: str) -> None:
    with pytest.raises(TetherError, match="not a loopback login server"):
        trust_registry(ClusterPaths(tmp_path), login_server, ca_pem="x")
