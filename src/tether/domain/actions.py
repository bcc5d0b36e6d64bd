"""The RBAC action a request needs, derived from the resource type and the HTTP method (as ARM does)."""

from __future__ import annotations

_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


# Azure names resource-group permissions under subscriptions (what Kubernetes Extension Contributor grants).
_ACTION_TYPES = {"microsoft.resources/resourcegroups": "Microsoft.Resources/subscriptions/resourceGroups"}


def action_for(full_type: str, method: str, *, action: str | None = None) -> str:
    """``Microsoft.MachineLearningServices/workspaces/computes`` + PUT → ``.../computes/write``.

    A POST names an action (``listKeys``) → ``<type>/listKeys/action``.
    """
    full_type = _ACTION_TYPES.get(full_type.lower(), full_type)
    if method.upper() == "POST":
        if not action:
            raise ValueError("a POST request needs an action name")
        return f"{full_type}/{action}/action"
    return f"{full_type}/{_VERBS[method.upper()]}"
