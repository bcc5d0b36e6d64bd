"""The relay: the control plane's end of the connect agents' tunnels.

``RelayHub`` accepts agents on its WebSocket endpoint (``serve``), keeps one tunnel per cluster and
hands out ``httpx2`` transports (``transport(cluster_key)``) that lightkube uses unchanged. The wire
format is :mod:`tether.protocol.tunnel`; docs/relay.md describes protocol, timeouts and failure modes.
"""

from tether.relay.errors import ClusterNotReachable
from tether.relay.hub import Authenticate, OnStatus, RelayHub, RelaySettings
from tether.relay.transport import RelayTransport

__all__ = ["Authenticate", "ClusterNotReachable", "OnStatus", "RelayHub", "RelaySettings", "RelayTransport"]
