"""The RBAC action a request needs, derived from the resource type and the HTTP method (as ARM does)."""

from __future__ import annotations

_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


def action_for(full_type: str, method: str, *, action: str | None = None) -> str:
    """``Microsoft.MachineLearningServices/workspaces/computes`` + PUT → ``.../computes/write``.

    A POST names an action (``listKeys``) → ``<type>/listKeys/action``.
    """
    if method.upper() == "POST":
        if not action:
            raise ValueError("a POST request needs an action name")
        return f"{full_type}/{action}/action"
    return f"{full_type}/{_VERBS[method.upper()]}"
