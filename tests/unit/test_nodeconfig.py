"""The real node's configuration files (pure rendering): what each setting that was needed here says."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import yaml

from tether.agents.extension import pods
from tether.localcluster import nodeconfig
from tether.localcluster.nodeconfig import NodePaths

PATHS = NodePaths(Path("/state/node"))
BIN = Path("/cache/bin")


def test_containerd_config_keeps_everything_under_the_node_directory_and_pulls_from_nowhere() -> None:
    config = tomllib.loads(nodeconfig.containerd_config(PATHS, bin_dir=BIN, pause_image="tether.local/pause:3.10"))

    assert config["version"] == 3
    assert config["root"] == "/state/node/containerd/root"
    assert config["grpc"]["address"] == "/state/node/containerd.sock"
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True
    assert runtime["containerd"]["runtimes"]["runc"]["options"] == {
        "BinaryName": "/cache/bin/runc",
        "SystemdCgroup": False,
    }
    assert runtime["cni"]["bin_dirs"] == ["/cache/bin"]
    images = config["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "tether.local/pause:3.10"
    assert images["registry"]["config_path"] == "/state/node/containerd/certs.d"
    assert nodeconfig.registry_hosts_toml() == 'server = "https://127.0.0.1:9"\n'
    assert [p["type"] for p in json.loads(nodeconfig.cni_conflist())["plugins"]] == ["loopback"]


def test_kubelet_config_is_loopback_only_cgroup_v1_and_never_evicts() -> None:
    ca, cert, key = Path("/ca.crt"), Path("/s.crt"), Path("/s.key")
    config = yaml.safe_load(nodeconfig.kubelet_config(PATHS, ca_file=ca, cert_file=cert, key_file=key))

    assert config["address"] == config["healthzBindAddress"] == "127.0.0.1"
    assert config["readOnlyPort"] == 0
    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert set(config["evictionHard"].values()) == {"0%"}
    assert config["containerRuntimeEndpoint"] == "unix:///state/node/containerd.sock"
    assert "--cloud-provider=external" in nodeconfig.kubelet_argv(BIN, PATHS)


def test_only_the_imported_images_skip_pull_credential_reverification() -> None:
    ca, cert, key = Path("/ca.crt"), Path("/s.crt"), Path("/s.key")
    config = yaml.safe_load(nodeconfig.kubelet_config(PATHS, ca_file=ca, cert_file=cert, key_file=key))

    assert config["imagePullCredentialsVerificationPolicy"] == "NeverVerifyAllowlistedImages"
    assert config["preloadedImagesVerificationAllowlist"] == ["tether.local/*"]


def test_the_registered_node_loses_the_uninitialized_taint_and_gets_the_host_network_one() -> None:
    taints = [{"key": nodeconfig.UNINITIALIZED_TAINT_KEY, "value": "true", "effect": "NoSchedule"}]

    patch = nodeconfig.node_patch(taints)

    assert patch["spec"]["taints"] == [nodeconfig.REAL_NODE_TAINT]
    assert patch["metadata"]["labels"][nodeconfig.POD_NETWORK_LABEL] == nodeconfig.POD_NETWORK_HOST


def test_the_operator_and_the_node_agree_on_the_host_network_label() -> None:
    assert pods.POD_NETWORK_LABEL == nodeconfig.POD_NETWORK_LABEL
    assert pods.POD_NETWORK_HOST == nodeconfig.POD_NETWORK_HOST
    assert {k: v for k, v in pods.HOST_NETWORK_TOLERATION.items() if k != "operator"} == nodeconfig.REAL_NODE_TAINT
