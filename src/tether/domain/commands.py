"""Fix commands in messages, named for both CLIs a user may be running.

Tether's errors reach users of the ``tether`` CLI and of the real ``az`` (pointed at Tether as a
custom cloud); a message that tells an az user to run ``tether ...`` assumes the wrong tool. For the
commands both CLIs share (same command tree, same arguments), name both. Commands only ``tether``
has (registering a kubeconfig, the local cluster, agents) keep saying ``tether``.
"""

from __future__ import annotations


def either_cli(command: str) -> str:
    """``group create -n rg`` → ``az group create -n rg (or: tether group create -n rg)``."""
    return f"az {command} (or: tether {command})"
