"""The connect agent: runs in a connected cluster and tunnels the control plane's Kubernetes API calls.

It dials *out* to the relay (``wss://<server>/relay/connect``), authenticates with the cluster's
credential, and forwards each tunnelled request to its own API server. Entry points: ``run_agent``
(or ``ConnectAgent`` for observable state), ``tether agent connect`` on the command line, and
``manifests`` for deploying it (deploy/connect-agent.yaml is the default rendering).
"""

from tether.agents.connect.agent import (
    AgentOptions,
    AgentState,
    CloseInfo,
    ConnectAgent,
    CredentialError,
    backoff_delay,
    credential_from_file,
    run_agent,
)
from tether.agents.connect.manifests import manifests
from tether.agents.connect.session import SessionLimits
from tether.agents.connect.upstream import UpstreamConfig, load_upstream

__all__ = [
    "AgentOptions",
    "AgentState",
    "CloseInfo",
    "ConnectAgent",
    "CredentialError",
    "SessionLimits",
    "UpstreamConfig",
    "backoff_delay",
    "credential_from_file",
    "load_upstream",
    "manifests",
    "run_agent",
]
