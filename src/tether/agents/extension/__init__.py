"""The ML extension operator (runs in the cluster, or as a local process on simulated-node clusters).

A heartbeat Lease and a status ConfigMap in the release namespace (``operator``), built from
self-checks (``checks``), and the job controller (``controller``, ``jobs``): TetherJobs become gangs of
pods with the compute's identity, and their status is written back. It imports ``tether.kube`` helpers
and never the server side.
"""

from tether.agents.extension.operator import run_operator

__all__ = ["run_operator"]
