"""Errors of the local cluster: missing binaries, a component that died, a cluster that never got ready.

Each subclasses ``tether.errors`` so the CLI and fixtures can report them uniformly; the message always
says what to do next (build the binaries, read the quoted log tail, run ``down``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.errors import DeadlineExceeded, NotFound, Unavailable


@dataclass
class BinariesMissing(NotFound):
    """The Kubernetes binaries are not in the cache directory; ``make kube`` builds them."""

    code: str = "KubeBinariesMissing"


@dataclass
class ComponentFailed(Unavailable):
    """A component of the local cluster exited or could not be started; the message quotes its log."""

    code: str = "LocalClusterComponentFailed"


@dataclass
class ClusterNotReady(DeadlineExceeded):
    """The cluster did not become ready within its deadline."""

    code: str = "LocalClusterNotReady"


@dataclass
class ClusterNotFound(NotFound):
    """No local cluster has state under the given directory."""

    code: str = "LocalClusterNotFound"


@dataclass
class RealNodeUnavailable(Unavailable):
    """This host cannot run the real node now (not root, or another cluster's real node runs)."""

    code: str = "RealNodeUnavailable"
