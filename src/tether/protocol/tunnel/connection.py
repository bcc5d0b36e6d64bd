"""What the relay tunnel's WebSocket says besides frames: its close codes and its handshake headers.

The agent's upgrade request names its cluster and carries its credential in these headers; either side
ends the tunnel with one of these close codes (4000-4999 are for applications).
"""

from __future__ import annotations

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_PROTOCOL_ERROR = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_KEEPALIVE_TIMEOUT = 4408
CLOSE_ALREADY_CONNECTED = 4409
CLOSE_THROTTLED = 4429  # too many wrong credentials for this cluster lately; the reason says when to retry
#: Close codes that mean "this agent was refused": it backs off and tries again (credentials may rotate).
REFUSAL_CODES = frozenset(
    {CLOSE_PROTOCOL_ERROR, CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN, CLOSE_ALREADY_CONNECTED, CLOSE_THROTTLED}
)

# Handshake headers of the agent's WebSocket upgrade request.
CLUSTER_HEADER = "X-Tether-Cluster"
AUTHORIZATION_HEADER = "Authorization"
